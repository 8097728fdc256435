# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stubbed AWS clients for the unit tests of the EKS and IAM code.

botocore's Stubber stands in for AWS here only for what the tests drive through exact request and
response shapes (upgrade steps, retried codes, failed updates) that moto does not reproduce; the
same code runs against moto in tests/integration. The clients are wrapped as AnsibleAWSModule
wraps them (``aws_retry=True``), with one quick retry."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper


def _stubbed_client(service, region, endpoint):
    client = boto3.client(service, region_name=region, aws_access_key_id="AKIAUNITTEST",
                          aws_secret_access_key="unit-test", endpoint_url=endpoint)
    stubber = Stubber(client)
    with stubber:
        yield RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1, delay=0)), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def stubbed():
    """An EKS client and its Stubber; every queued response must have been used."""
    yield from _stubbed_client("eks", "eu-west-1", "https://eks.eu-west-1.amazonaws.com")


@pytest.fixture
def stubbed_iam():
    """An IAM client and its Stubber; every queued response must have been used."""
    yield from _stubbed_client("iam", "us-east-1", "https://iam.amazonaws.com")
