"""Route query-signed (pre-signed) requests of services other than S3 to their service.

Gap: the moto server picks the service of a request from the credential scope in its
``Authorization`` header. A pre-signed URL carries that scope in the ``X-Amz-Credential`` query
parameter instead and has no such header, so moto hands it to S3. Upstream every service has its own
endpoint and there is nothing to guess.

This matters for EKS tokens. ``aws eks get-token`` and mlops.eks_platform.eks_kubeconfig make a
token from a pre-signed STS ``GetCallerIdentity`` URL. The cluster's authenticator GETs that URL, with
the ``x-k8s-aws-id`` header, to learn the caller's identity. With this patch the tests can replay
a token against the emulator the way the authenticator does. Without it they get an S3 bucket
listing back.
"""

from urllib.parse import parse_qs


def apply():
    from moto.moto_server import werkzeug_app

    original = werkzeug_app.DomainDispatcherApplication.infer_service_region_host

    def infer_service_region_host(self, environ, path):
        if not environ.get("HTTP_AUTHORIZATION"):
            query = parse_qs(environ.get("QUERY_STRING", ""))
            scope = (query.get("X-Amz-Credential") or [""])[0].split("/")
            if len(scope) == 5 and scope[3] not in ("s3", "s3-object-lambda"):
                return "%s.%s.amazonaws.com" % (scope[3], scope[2])
        return original(self, environ, path)

    werkzeug_app.DomainDispatcherApplication.infer_service_region_host = infer_service_region_host
