# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A minimal client of the Docker Registry HTTP API v2 (OCI distribution), for ecr_image.

What ecr_image asks a registry: does this tag exist and which manifest digest does it point
at (one ``HEAD /v2/<name>/manifests/<tag>``), and, to give an existing image one more tag
without building or pushing layers, ``GET`` the manifest by digest and ``PUT`` it under the
new tag. Amazon ECR speaks this API with HTTP basic authentication (user ``AWS``, the
password from ``ecr:GetAuthorizationToken``), and so does the CNCF distribution registry
(Debian's ``docker-registry``) with an htpasswd file, which is what the tests use.
"""

from __future__ import annotations

import hashlib
import json

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)


class RegistryError(Exception):
    """A registry request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message, status=None):
        super(RegistryError, self).__init__(message)
        self.status = status


class Registry(object):
    """One registry host (``host[:port]``), reached over HTTPS, or plain HTTP when ``insecure``."""

    def __init__(self, host, username=None, password=None, insecure=False, validate_certs=True, timeout=30):
        self.host = host
        self.scheme = "http" if insecure else "https"
        self.username = username
        self.password = password
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.requests = 0

    def _url(self, repository, reference):
        return "%s://%s/v2/%s/manifests/%s" % (self.scheme, self.host, repository, reference)

    def _open(self, method, url, headers, data=None):
        self.requests += 1
        kwargs = dict(method=method, headers=headers, data=data, timeout=self.timeout,
                      validate_certs=self.validate_certs, follow_redirects="safe",
                      http_agent="mlops.eks_platform.ecr_image")
        if self.username is not None:
            kwargs.update(url_username=self.username, url_password=self.password, force_basic_auth=True)
        try:
            return open_url(url, **kwargs)
        except HTTPError as e:
            body = ""
            try:
                body = e.read().decode("utf-8", "replace")[:500]
            except Exception:  # the body is only detail for the message
                pass
            if e.code == 404:
                raise RegistryError("not found", status=404)
            if e.code in (401, 403):
                raise RegistryError(("%s %s: the registry %s refused the credentials (HTTP %d) %s"
                                     % (method, url, self.host, e.code, body)).strip(), status=e.code)
            raise RegistryError("%s %s failed: HTTP %d %s" % (method, url, e.code, body), status=e.code)
        except (URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RegistryError("cannot reach the registry %s (%s %s): %s" % (self.host, method, url, reason))

    def manifest_digest(self, repository, reference):
        """The digest the tag (or digest) points at, or None when the registry does not have it."""
        try:
            response = self._open("HEAD", self._url(repository, reference), {"Accept": ACCEPT})
        except RegistryError as e:
            if e.status == 404:
                return None
            raise
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        # Registries may leave the header out of HEAD answers; the digest is that of the body.
        manifest = self.get_manifest(repository, reference)
        return manifest[2] if manifest else None

    def get_manifest(self, repository, reference):
        """``(body bytes, media type, digest)`` of a manifest, or None when it does not exist."""
        try:
            response = self._open("GET", self._url(repository, reference), {"Accept": ACCEPT})
        except RegistryError as e:
            if e.status == 404:
                return None
            raise
        body = response.read()
        media_type = response.headers.get("Content-Type") or ""
        if media_type not in MANIFEST_TYPES:
            try:
                media_type = json.loads(body.decode("utf-8")).get("mediaType") or media_type
            except ValueError:
                pass
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        return body, media_type, digest

    def put_manifest(self, repository, tag, body, media_type):
        """Store ``body`` under ``tag``; returns the digest the registry reports."""
        response = self._open("PUT", self._url(repository, tag), {"Content-Type": media_type}, data=body)
        return response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
