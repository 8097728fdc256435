"""A log of the AWS API requests the emulator answered, for the deploy benchmark (bench/deploy.py).

Gap: moto's server keeps no record of the requests it serves (werkzeug prints a line per
request to stderr, without the service or the API operation), so "how many AWS calls does a
re-run make, and which" can not be answered. AWS itself has CloudTrail for that.

With ``MLOPS_MOTO_REQUEST_LOG=<path>`` set when the server starts, every request that reaches
an AWS service emulation appends one JSON line to <path>::

    {"t": 1767225600.123, "service": "eks", "action": "DescribeCluster", "method": "GET",
     "path": "/clusters/x", "status": 200, "ms": 3.1}

``t`` is the wall-clock time (``time.time()``) the request arrived, ``action`` the API
operation (None when moto could not tell, e.g. a route moto does not have), ``status`` the HTTP
status of the answer. Requests to moto's own API (``/moto-api/``: reset, state, ...) are not
AWS requests and are not logged. The file is opened per request in append mode, so it can be
truncated or removed between runs while the server keeps going. Unset: nothing is logged.
"""

import json
import os
import threading
import time

ENV = "MLOPS_MOTO_REQUEST_LOG"


def _action_from_environ(environ):
    """The operation when moto's response classes did not name it: X-Amz-Target or Action=."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1]
    query = environ.get("QUERY_STRING") or ""
    for part in query.split("&"):
        if part.startswith("Action="):
            return part[len("Action="):]
    return None


def apply():
    path = os.environ.get(ENV)
    if not path:
        return

    from moto.core.responses import BaseResponse
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    local = threading.local()
    write_lock = threading.Lock()

    original_call_action = BaseResponse.call_action

    def call_action(self):
        try:
            local.action = self._get_action()  # pylint: disable=protected-access
        except Exception:  # pragma: no cover - the log must never break a request
            local.action = None
        return original_call_action(self)

    BaseResponse.call_action = call_action

    # S3 does not go through call_action; it names the (IAM) action of each request itself.
    from moto.s3.responses import S3Response

    original_set_action = getattr(S3Response, "_set_action", None)
    if original_set_action is not None:
        def _set_action(self, *args, **kwargs):
            result = original_set_action(self, *args, **kwargs)
            local.action = (getattr(self, "data", None) or {}).get("Action")
            return result

        S3Response._set_action = _set_action  # pylint: disable=protected-access

    original_call = DomainDispatcherApplication.__call__

    def write(entry):
        line = json.dumps(entry, sort_keys=True) + "\n"
        with write_lock:
            with open(path, "a") as handle:
                handle.write(line)

    def __call__(self, environ, start_response):
        path_info = environ.get("PATH_INFO", "") or ""
        if path_info.startswith("/moto-api") or path_info == "/favicon.ico":
            return original_call(self, environ, start_response)
        started = time.time()
        local.action = None
        status = {}

        def recording_start_response(status_line, headers, exc_info=None):
            status["code"] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        service = None
        try:
            service = self.get_application(environ).service
        except Exception:  # pylint: disable=broad-except  # moto reports the routing error itself below
            pass
        try:
            # The original (or what an earlier patch, e.g. fault_injection.py, made of it) answers.
            return original_call(self, environ, recording_start_response)
        finally:
            try:
                code = int(status.get("code") or 500)
            except ValueError:
                code = 500
            try:
                write({
                    "t": round(started, 4),
                    "service": service,
                    "action": getattr(local, "action", None) or _action_from_environ(environ),
                    "method": environ.get("REQUEST_METHOD"),
                    "path": path_info,
                    "status": code,
                    "ms": round((time.time() - started) * 1000, 1),
                })
            except OSError:  # pragma: no cover - a missing log directory must not break the emulator
                pass

    DomainDispatcherApplication.__call__ = __call__
