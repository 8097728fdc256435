"""The collection's retry policy: the JSON APIs' ThrottlingException is retried, other errors are not."""

import pytest
from botocore.exceptions import ClientError

from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator


def client_error(code, status):
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "DescribeCluster")


def flaky(errors):
    """A call that raises each of ``errors`` in turn, then answers; ``calls`` counts the attempts."""
    pending = list(errors)
    calls = []

    def call():
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return "answer"
    return call, calls


@pytest.mark.parametrize("code,status", [("ThrottlingException", 429), ("ThrottlingException", 400),
                                         ("Throttling", 400), ("ServiceUnavailable", 503)])
def test_throttling_and_unavailable_are_retried(code, status):
    call, calls = flaky([client_error(code, status)] * 2)
    assert retry_decorator(retries=3, delay=0.01)(call)() == "answer"
    assert len(calls) == 3


def test_extra_codes_are_retried():
    call, calls = flaky([client_error("ResourceInUseException", 409)])
    assert retry_decorator(["ResourceInUseException"], retries=3, delay=0.01)(call)() == "answer"
    assert len(calls) == 2


def test_other_errors_fail_at_once():
    call, calls = flaky([client_error("AccessDeniedException", 403)])
    with pytest.raises(ClientError):
        retry_decorator(retries=3, delay=0.01)(call)()
    assert len(calls) == 1


def test_retries_are_bounded():
    call, calls = flaky([client_error("ThrottlingException", 429)] * 10)
    with pytest.raises(ClientError):
        retry_decorator(retries=2, delay=0.01)(call)()
    assert len(calls) == 2
