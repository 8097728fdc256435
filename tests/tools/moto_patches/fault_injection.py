"""Fault injection: answer a share of AWS API requests with throttling or a 5xx, as AWS does.

Gap: moto answers every request at once and never throttles, so nothing in the tests proves that
the collection survives what a busy real account does to a deploy: ``RequestLimitExceeded`` from
EC2, ``Throttling`` from IAM/RDS/STS, ``ThrottlingException`` from the JSON APIs, ``SlowDown`` from
S3, ``InternalError``/``ServiceUnavailable`` now and then. This patch restores that behaviour on a
switch, off unless asked for:

    MLOPS_MOTO_FAULTS="throttle=0.2,error5xx=0.05,seed=7"   (unset or "off": no faults)

Keys (comma-separated):

``throttle=P``   share of requests answered with the service's own throttling error
``error5xx=P``   share answered with HTTP 500 ``InternalError``/``InternalFailure`` or 503
                 ``ServiceUnavailable``/``Unavailable`` (the service's common errors)
``seed=N``       makes the choice deterministic: the n-th occurrence of a given request (method,
                 path, query, body without idempotency tokens) is faulted or not by a hash of
                 seed, request and n, so the same request sequence sees the same faults whatever
                 the thread interleaving
``persist=N``    a faulted call keeps failing for N attempts in a row (same botocore
                 ``amz-sdk-invocation-id``), default 1. With N >= botocore's max attempts (3 in
                 its default ``standard`` mode, 5 in ``legacy``) the error outlasts botocore's own
                 retries and reaches the caller.
``max_per_call=N``  fault at most N attempts of one call (one ``amz-sdk-invocation-id``); with
                 N below botocore's max attempts every call succeeds through botocore's retries
                 alone, by construction rather than by chance
``services=a+b`` only these signing names (``ec2+iam+eks``); default every service
``except_services=a+b``  never these signing names
``throttle_protocols=a+b``  throttle only requests of these protocols (``ec2+query``: the ones
                 whose throttling code amazon.aws's ``AWSRetry`` knows); default every protocol.
                 ``error5xx`` still applies to every protocol.

Only signed AWS API requests (``Authorization: AWS4-HMAC-SHA256``) are eligible; ``/moto-api/``,
pre-signed URLs (EKS tokens) and unsigned requests never fail. The error has the shape of the
request's protocol, so botocore parses it into the same ``ClientError`` code as from AWS:

=========  =============================================  =========================================
protocol   throttle                                       error5xx
=========  =============================================  =========================================
ec2        503 ``RequestLimitExceeded``                   500 ``InternalError`` / 503 ``Unavailable``
query      400 ``Throttling`` (IAM, RDS, STS, ELB, ...)   500 ``InternalFailure`` / 503 ``ServiceUnavailable``
json       400 ``ThrottlingException`` (KMS, Secrets      500 ``InternalFailure`` / 503 ``ServiceUnavailable``
           Manager, ECR, ...)
rest-json  429 ``ThrottlingException`` (EKS, EFS, ...)    500 ``InternalFailure`` / 503 ``ServiceUnavailable``
rest-xml   503 ``SlowDown`` (S3)                          500 ``InternalError`` / 503 ``ServiceUnavailable``
=========  =============================================  =========================================

botocore's retry handler (``standard`` mode: 3 attempts) retries all of these; amazon.aws's
``AWSRetry.found`` retries ``RequestLimitExceeded``, ``Throttling``, ``InternalError``,
``InternalFailure``, ``ServiceUnavailable``, ``Unavailable`` and ``TooManyRequestsException``.

Counts: ``GET /moto-api/faults`` answers a JSON document: the spec, the requests seen (by
service), the faults injected (by kind, code, service and operation) and who retried a faulted
request: ``retried_by_sdk`` when the same request came back with the same invocation id
(botocore's retry), ``retried_by_caller`` when it came back as a new call (the module: AWSRetry
or a loop of its own), ``not_retried`` (and ``not_retried_operations``) for faults nobody has
retried yet, and ``log``: the last 500 faults with time, operation, code and the request in short.
``POST /moto-api/faults`` with a spec as the body switches the faults at run time (``off`` stops
them) and zeroes the counts. With ``MLOPS_MOTO_FAULTS_FILE=<path>`` the same document is also
written to that file after every change.
"""

import hashlib
import io
import json
import os
import re
import threading
import time
import uuid
from urllib.parse import parse_qsl, urlencode

SPEC_ENV = "MLOPS_MOTO_FAULTS"
FILE_ENV = "MLOPS_MOTO_FAULTS_FILE"
ENDPOINT = "/moto-api/faults"
LOG_SIZE = 500

# Parameters botocore fills with a fresh idempotency token per call: left out of the request
# fingerprint so that a caller's retry of the same call is recognised as the same request.
TOKEN_PARAMS = ("ClientToken", "clientToken", "clientRequestToken", "ClientRequestToken", "IdempotencyToken")
REST_XML_SERVICES = ("s3", "s3-control", "route53", "cloudfront")

# (status, code) per protocol and kind; error5xx alternates between the two.
CODES = {
    "ec2": {"throttle": [(503, "RequestLimitExceeded")], "error5xx": [(500, "InternalError"), (503, "Unavailable")]},
    "query": {"throttle": [(400, "Throttling")], "error5xx": [(500, "InternalFailure"), (503, "ServiceUnavailable")]},
    "json": {"throttle": [(400, "ThrottlingException")],
             "error5xx": [(500, "InternalFailure"), (503, "ServiceUnavailable")]},
    "rest-json": {"throttle": [(429, "ThrottlingException")],
                  "error5xx": [(500, "InternalFailure"), (503, "ServiceUnavailable")]},
    "rest-xml": {"throttle": [(503, "SlowDown")], "error5xx": [(500, "InternalError"), (503, "ServiceUnavailable")]},
}
MESSAGES = {
    "RequestLimitExceeded": "Request limit exceeded.",
    "Throttling": "Rate exceeded",
    "ThrottlingException": "Rate exceeded",
    "SlowDown": "Please reduce your request rate.",
}


class FaultSpecError(ValueError):
    pass


def parse_spec(text):
    """``throttle=0.2,error5xx=0.05,seed=7`` -> dict; empty/``off`` -> None."""
    text = (text or "").strip()
    if text in ("", "off", "0", "none"):
        return None
    spec = {"throttle": 0.0, "error5xx": 0.0, "seed": 0, "persist": 1, "max_per_call": 0, "services": None,
            "except_services": None, "throttle_protocols": None}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in spec:
            raise FaultSpecError("%s: unknown item %r (%s)" % (SPEC_ENV, item, ", ".join(sorted(spec))))
        try:
            if key in ("throttle", "error5xx"):
                spec[key] = float(value)
                if not 0.0 <= spec[key] <= 1.0:
                    raise ValueError(value)
            elif key in ("seed", "persist", "max_per_call"):
                spec[key] = int(value)
                if (key == "persist" and spec[key] < 1) or spec[key] < 0:
                    raise ValueError(value)
            else:
                spec[key] = sorted(s for s in value.split("+") if s)
                if key == "throttle_protocols" and not set(spec[key]) <= set(CODES):
                    raise ValueError(value)
        except ValueError:
            raise FaultSpecError("%s: bad value in %r" % (SPEC_ENV, item)) from None
    if spec["throttle"] + spec["error5xx"] > 1.0:
        raise FaultSpecError("%s: throttle + error5xx must not exceed 1" % SPEC_ENV)
    return spec


def _unit(*parts):
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def _read_body(environ):
    """Read the request body (always, so that keep-alive connections stay in step) and put it back."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _strip_tokens(body, content_type):
    if not body:
        return body
    if "json" in content_type:
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        if isinstance(doc, dict):
            for key in TOKEN_PARAMS:
                doc.pop(key, None)
            return json.dumps(doc, sort_keys=True).encode()
        return body
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return body
        return urlencode([(k, v) for k, v in pairs if k not in TOKEN_PARAMS]).encode()
    return body


class Request:
    """What the injector needs to know about one request."""

    def __init__(self, environ):
        self.environ = environ
        auth = environ.get("HTTP_AUTHORIZATION", "")
        match = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/aws4_request", auth)
        self.signed = auth.startswith("AWS4-HMAC-SHA256") and match is not None
        self.region, self.service = (match.group(1), match.group(2)) if match else ("", "")
        self.invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID", "")
        attempt = re.search(r"attempt=(\d+)", environ.get("HTTP_AMZ_SDK_REQUEST", ""))
        self.attempt = int(attempt.group(1)) if attempt else 0
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO", "")
        self.query = environ.get("QUERY_STRING", "")
        self.content_type = environ.get("CONTENT_TYPE", "") or ""
        self.body = _read_body(environ) if self.signed else b""
        self.protocol = self._protocol()
        self.operation = self._operation()
        self.fingerprint = hashlib.sha256(b"\0".join([
            self.service.encode(), self.method.encode(), self.path.encode(), self.query.encode(),
            _strip_tokens(self.body, self.content_type)])).hexdigest()

    def summary(self):
        """The request in short, for the fault log: method, path, query and the start of the body."""
        body = _strip_tokens(self.body, self.content_type)[:300].decode("utf-8", "replace")
        return "%s %s%s %s" % (self.method, self.path, ("?" + self.query) if self.query else "", body)

    def _form(self):
        text = self.query
        if self.content_type.startswith("application/x-www-form-urlencoded"):
            text = self.body.decode("utf-8", "replace") + "&" + text
        return dict(parse_qsl(text, keep_blank_values=True))

    def _protocol(self):
        if self.environ.get("HTTP_SMITHY_PROTOCOL") or "cbor" in self.content_type:
            return None  # rpc-v2-cbor: not answered with faults (no service of the platform uses it)
        if self.service == "ec2":
            return "ec2"
        if self.environ.get("HTTP_X_AMZ_TARGET"):
            return "json"
        if self.service in REST_XML_SERVICES:
            return "rest-xml"
        if "Action" in self._form():
            return "query"
        return "rest-json"

    def _operation(self):
        if self.protocol == "json":
            return self.environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        if self.protocol in ("ec2", "query"):
            return self._form().get("Action", "?")
        segments = [s for s in self.path.split("/") if s]
        return "%s /%s" % (self.method, segments[0] if segments else "")


def error_response(protocol, status, code, service):
    """(status line, headers, body) in the protocol's error shape."""
    request_id = str(uuid.uuid4())
    message = MESSAGES.get(code, "We encountered an internal error. Please try again.")
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    if protocol == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>" % (code, message, request_id))
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    elif protocol == "query" or (protocol == "rest-xml" and service != "s3"):
        kind = "Sender" if status < 500 else "Receiver"
        body = ("<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error>"
                "<RequestId>%s</RequestId></ErrorResponse>" % (kind, code, message, request_id))
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "rest-xml":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message>"
                "<RequestId>%s</RequestId></Error>" % (code, message, request_id))
        headers.append(("Content-Type", "application/xml"))
    elif protocol == "json":
        body = json.dumps({"__type": code, "message": message})
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
    else:
        body = json.dumps({"message": message})
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    body = body.encode()
    headers.append(("Content-Length", str(len(body))))
    reasons = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    return "%d %s" % (status, reasons[status]), headers, body


class FaultInjector:
    def __init__(self, spec_text, counts_file=None):
        self.lock = threading.Lock()
        self.counts_file = counts_file
        self.configure(spec_text)

    def configure(self, spec_text):
        spec = parse_spec(spec_text)
        with self.lock:
            self.spec_text = (spec_text or "").strip() if spec else "off"
            self.spec = spec
            self.occurrences = {}
            self.persisting = {}  # invocation id -> (kind, status, code, attempts left)
            self.per_call = {}  # invocation id -> faults injected into that call
            self.pending = {}  # fingerprint -> (invocation id, label, log entry) of a fault not yet retried
            self.log = []  # the last LOG_SIZE faults
            self.counts = {"requests": 0, "requests_by_service": {}, "injected": 0, "by_kind": {}, "by_code": {},
                           "by_service": {}, "by_operation": {}, "retried_by_sdk": 0, "retried_by_caller": 0}
            self._write()

    def report(self):
        with self.lock:
            return self._report()

    def _report(self):
        return dict(self.counts, spec=self.spec_text, enabled=self.spec is not None, not_retried=len(self.pending),
                    not_retried_operations=sorted(p[1] for p in self.pending.values()),
                    log=[dict(e) for e in self.log])

    def _write(self):
        if self.counts_file:
            tmp = self.counts_file + ".tmp"
            with open(tmp, "w") as handle:
                json.dump(self._report(), handle, indent=2, sort_keys=True)
            os.replace(tmp, self.counts_file)

    @staticmethod
    def _bump(table, key):
        table[key] = table.get(key, 0) + 1

    def decide(self, req):
        """The fault for this request, as (status, code), or None."""
        spec = self.spec
        if spec is None or not req.signed or req.protocol is None:
            return None
        if spec["services"] and req.service not in spec["services"]:
            return None
        if spec["except_services"] and req.service in spec["except_services"]:
            return None
        changed = False
        with self.lock:
            counts = self.counts
            counts["requests"] += 1
            self._bump(counts["requests_by_service"], req.service)
            # Who retried an earlier fault: botocore (same invocation) or the caller (a new call)?
            previous = self.pending.pop(req.fingerprint, None)
            if previous is not None:
                changed = True
                by = "sdk" if req.invocation and previous[0] == req.invocation else "caller"
                counts["retried_by_" + by] += 1
                previous[2]["retried_by"] = by
            fault = None
            persisting = self.persisting.pop(req.invocation, None) if req.invocation else None
            if persisting is not None:
                kind, status, code, left = persisting
                fault = (kind, status, code)
                if left > 1:
                    self.persisting[req.invocation] = (kind, status, code, left - 1)
            elif spec["max_per_call"] and req.invocation and self.per_call.get(req.invocation, 0) >= spec["max_per_call"]:
                pass  # this call had its share of faults
            else:
                n = self.occurrences.get(req.fingerprint, 0)
                self.occurrences[req.fingerprint] = n + 1
                draw = _unit(spec["seed"], req.fingerprint, n)
                throttle = spec["throttle"]
                if spec["throttle_protocols"] and req.protocol not in spec["throttle_protocols"]:
                    throttle = 0.0
                kind = None
                if draw < throttle:
                    kind = "throttle"
                elif spec["throttle"] <= draw < spec["throttle"] + spec["error5xx"]:
                    kind = "error5xx"
                if kind:
                    choices = CODES[req.protocol][kind]
                    status, code = choices[int(_unit(spec["seed"], req.fingerprint, n, "code") * len(choices))]
                    fault = (kind, status, code)
                    if spec["persist"] > 1 and req.invocation:
                        self.persisting[req.invocation] = (kind, status, code, spec["persist"] - 1)
            if fault:
                kind, status, code = fault
                if req.invocation:
                    self.per_call[req.invocation] = self.per_call.get(req.invocation, 0) + 1
                counts["injected"] += 1
                self._bump(counts["by_kind"], kind)
                self._bump(counts["by_code"], code)
                self._bump(counts["by_service"], req.service)
                self._bump(counts["by_operation"], "%s:%s" % (req.service, req.operation))
                entry = {"t": round(time.time(), 3), "operation": "%s:%s" % (req.service, req.operation), "code": code,
                         "attempt": req.attempt, "request": req.summary(), "retried_by": None}
                self.log.append(entry)
                del self.log[:-LOG_SIZE]
                self.pending[req.fingerprint] = (req.invocation, "%s:%s %s" % (req.service, req.operation, code), entry)
                changed = True
            if changed:
                self._write()
            return (status, code) if fault else None

    def endpoint(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        status = "200 OK"
        if method == "POST":
            body = _read_body(environ).decode("utf-8", "replace")
            try:
                self.configure(body)
            except FaultSpecError as exc:
                status = "400 Bad Request"
                payload = json.dumps({"error": str(exc)}).encode()
                start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
                return [payload]
        payload = json.dumps(self.report(), sort_keys=True).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def wrap(self, app_call):
        injector = self

        def __call__(app, environ, start_response):
            if environ.get("PATH_INFO", "") == ENDPOINT:
                return injector.endpoint(environ, start_response)
            if environ.get("PATH_INFO", "").startswith("/moto-api") or injector.spec is None:
                return app_call(app, environ, start_response)
            req = Request(environ)
            fault = injector.decide(req)
            if fault is None:
                return app_call(app, environ, start_response)
            status_line, headers, body = error_response(req.protocol, fault[0], fault[1], req.service)
            start_response(status_line, headers)
            return [b"" if req.method == "HEAD" else body]

        return __call__


INJECTOR = None


def apply():
    global INJECTOR  # pylint: disable=global-statement
    from moto.moto_server import werkzeug_app

    # A bad spec stops the server at start (the sandbox then reports the log tail).
    INJECTOR = FaultInjector(os.environ.get(SPEC_ENV, ""), os.environ.get(FILE_ENV) or None)
    cls = werkzeug_app.DomainDispatcherApplication
    cls.__call__ = INJECTOR.wrap(cls.__call__)
