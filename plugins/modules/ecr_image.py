#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ecr_image
short_description: Build a container image only when its content changed, and push it to Amazon ECR
version_added: 0.1.0
description:
  - Ensures an Amazon ECR repository (KMS encryption, scan on push, tag immutability, an optional
    lifecycle policy and tags), computes a content digest of the build context, and tags the image
    with it (O(content_tag_prefix) followed by 24 hex digits of the digest).
  - If that tag already exists in the registry, nothing is built or pushed and the task reports
    C(changed=false). Such an unchanged run costs one registry lookup (an HTTP C(HEAD) of the tag's
    manifest), plus one per extra tag in O(tags), next to reading the repository and fetching an
    ECR authorization token.
  - Otherwise the image is built with docker, podman or buildah (O(builder)), the module logs in to
    the registry with an ECR authorization token (written to a private temporary file for the push
    only, never printed nor put on a command line), pushes, reads the manifest digest back from the
    registry, and points the extra tags in O(tags) at it.
  - The content digest covers every file of the context that C(.dockerignore) does not exclude
    (its relative path, type, executable bit and content; not its modification time or owner), the
    Dockerfile, O(build_args), O(target), O(platform) and O(image_format). It does not cover O(secrets), nor the
    contents of base images; pin a base image by digest in a build argument to rebuild when it changes.
  - Every refusal comes before any change. A missing context, Dockerfile or builder, a repository
    whose encryption differs, an immutable extra tag that already points at another image, and a
    failed build (the tail of the build log is in the message) all stop the task before the
    repository is created or changed and before anything is pushed. A refused push is reported
    with the tail of the push log.
  - Gap filled. M(community.aws.ecs_ecr) manages repositories but cannot tag them, requires a
    customer managed key for KMS encryption and compares a key alias with the key ARN ECR reports,
    so such a repository is never idempotent; it builds nothing. M(community.docker.docker_image)
    needs a Docker daemon, does not log in to ECR and rebuilds unless told not to; no module in
    amazon.aws builds images. A module cannot call another module, so the repository part is
    implemented here with boto3, following the semantics of M(community.aws.ecs_ecr).
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  name:
    description:
      - Name of the ECR repository, for example V(mlops/mlflow).
    type: str
    required: true
  path:
    description:
      - The build context, a directory on the controller (the host the module runs on).
    type: path
    required: true
  dockerfile:
    description:
      - The Dockerfile, relative to O(path) or absolute. Its content is part of the digest, even when
        it lies outside the context or C(.dockerignore) excludes it.
    type: str
    default: Dockerfile
  build_args:
    description:
      - Build arguments (C(--build-arg NAME=VALUE)). Names and values are part of the digest, so do not
        pass secrets here; use O(secrets).
    type: dict
    default: {}
  target:
    description:
      - The build stage to build (C(--target)). Part of the digest.
    type: str
  tags:
    description:
      - Extra tags for the image, for example V(latest) or a version.
      - A tag that is missing, or (in a mutable repository) points at another image, is pointed at this
        image by storing the same manifest under it, without building or pushing layers.
      - In an immutable repository, a tag that already points at another image is refused before any change.
    type: list
    elements: str
    default: []
  content_tag_prefix:
    description:
      - Prefix of the content tag. The tag is the prefix followed by the first 24 hex digits of RV(context_hash).
    type: str
    default: ctx-
  platform:
    description:
      - Target platform, for example V(linux/amd64) or V(linux/arm64) (C(--platform)).
      - When unset the builder's default is used, and the digest records this host's platform, so that
        images built on hosts of different architectures get different tags.
    type: str
  builder:
    description:
      - The tool that builds and pushes the image.
      - V(auto) picks the first of docker (only when its daemon answers), podman and buildah that is installed.
      - The module fails before any change when the chosen builder (or, for V(auto), any builder) is not installed.
    type: str
    choices: [auto, docker, podman, buildah]
    default: auto
  isolation:
    description:
      - Isolation of C(RUN) instructions for podman and buildah (C(--isolation)). V(chroot) works as root
        without a container runtime, in CI and in containers. Ignored by docker.
    type: str
    choices: [chroot, oci, rootless]
  image_format:
    description:
      - Manifest format that podman and buildah write. V(docker) (Docker image manifest v2 schema 2) keeps
        C(HEALTHCHECK), which the OCI format cannot hold; ECR stores either. Docker always writes its own
        format. Part of the digest.
    type: str
    choices: [docker, oci]
    default: docker
  secrets:
    description:
      - Build secrets (C(--secret id=ID,src=FILE)), for example a CA bundle that C(pip) needs behind a TLS
        intercepting proxy. A Dockerfile reads them with C(RUN --mount=type=secret,id=ID). Not part of the digest.
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: The secret's id in the Dockerfile.
        type: str
        required: true
      src:
        description: The file on the controller that holds the secret.
        type: path
        required: true
  build_timeout:
    description:
      - Seconds after which a build or a push is stopped and reported as failed.
    type: int
    default: 3600
  push:
    description:
      - Push the image. With V(false) the image is only built into the builder's local storage (when
        neither the registry nor the local storage has the content tag) and the repository is not changed.
    type: bool
    default: true
  registry:
    description:
      - A registry that stands in for ECR, as C(host[:port][/path]) without a scheme, for tests or a mirror.
        The image goes to C(<registry>/<name>); the ECR repository is still managed through the AWS API
        when O(manage_repository=true).
      - When unset, the registry is the account's ECR registry.
    type: str
  insecure_registry:
    description:
      - Talk to O(registry) over plain HTTP (and tell podman and buildah C(--tls-verify=false)), for a
        local test registry. Docker decides this itself (its daemon's C(insecure-registries); 127.0.0.0/8
        is always allowed).
    type: bool
    default: false
  registry_auth:
    description:
      - V(ecr) logs in with an ECR authorization token (C(ecr:GetAuthorizationToken)); with O(registry) the
        stand-in must accept the token's user and password.
      - V(none) uses no credentials; only with O(registry).
    type: str
    choices: [ecr, none]
    default: ecr
  registry_timeout:
    description: Seconds to wait for one registry HTTP request.
    type: int
    default: 30
  manage_repository:
    description:
      - Create the ECR repository and keep its settings (O(image_tag_mutability), O(scan_on_push),
        O(encryption_type), O(kms_key), O(lifecycle_policy), O(repository_tags)) as requested.
      - With V(false) the repository must exist (unless O(registry) is set) and is only read.
    type: bool
    default: true
  image_tag_mutability:
    description:
      - Whether tags in the repository can be moved to another image. Content tags never need to move;
        moving tags such as V(latest) needs V(mutable).
    type: str
    choices: [mutable, immutable]
    default: immutable
  scan_on_push:
    description: Scan images for vulnerabilities when they are pushed (basic scanning).
    type: bool
    default: true
  encryption_type:
    description:
      - Encryption of the repository at rest. ECR cannot change it after creation; the module fails when an
        existing repository differs.
    type: str
    choices: [KMS, AES256]
    default: KMS
  kms_key:
    description:
      - The KMS key (ARN, key id or alias) for O(encryption_type=KMS). When unset, ECR uses the AWS managed
        key C(aws/ecr). For an existing repository a key id or alias is resolved with C(kms:DescribeKey)
        and compared with the key the repository uses.
    type: str
  lifecycle_policy:
    description:
      - An ECR lifecycle policy (a dict or JSON text), for example to expire untagged images. When unset,
        the repository's lifecycle policy is left as it is.
    type: json
  repository_tags:
    description:
      - AWS resource tags of the repository. When unset, the repository's tags are left as they are.
      - Named so because O(tags) are image tags.
    type: dict
  purge_repository_tags:
    description: Remove repository tags that are not in O(repository_tags) (when it is set).
    type: bool
    default: true
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
    details:
      - Reads the repository and asks the registry, then reports in RV(actions) what would be done,
        without building, pushing or changing the repository.
  diff_mode:
    support: none
requirements:
  - boto3
  - docker, podman or buildah on the host the module runs on
notes:
  - The unchanged case is decided by the registry, not by local state. Any host with the same context
    gets the same tag, so CI runners and laptops share the work.
  - Build caches are the builder's own; the module adds C(--layers) for buildah.
  - Registries are reached with the Docker Registry HTTP API v2 and HTTP basic authentication, which is
    what ECR uses with its authorization token.
seealso:
  - module: community.aws.ecs_ecr
  - name: Amazon ECR private registry authentication
    description: How the authorization token logs a client in to ECR.
    link: https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html
  - name: .dockerignore files
    description: The rules the context digest follows to leave files out.
    link: https://docs.docker.com/build/concepts/context/#dockerignore-files
"""

EXAMPLES = r"""
- name: Build and push the MLflow server image when its content changed
  mlops.eks_platform.ecr_image:
    name: mlops/mlflow
    path: "{{ playbook_dir }}/../images/mlflow"
    build_args:
      BASE_IMAGE: public.ecr.aws/docker/library/python:3.12-slim-bookworm
    tags: [v1]
    platform: linux/amd64
    repository_tags:
      ManagedBy: mlops.eks_platform
    lifecycle_policy:
      rules:
        - rulePriority: 1
          description: expire untagged images after 14 days
          selection:
            tagStatus: untagged
            countType: sinceImagePushed
            countUnit: days
            countNumber: 14
          action:
            type: expire
  register: mlflow_image

- name: Use the image by digest
  ansible.builtin.debug:
    msg: "{{ mlflow_image.image_digest_uri }} (built: {{ mlflow_image.built }})"

- name: Build with buildah in CI, behind a TLS-intercepting proxy
  mlops.eks_platform.ecr_image:
    name: mlops/trainer
    path: images/trainer
    builder: buildah
    isolation: chroot
    secrets:
      - id: ca-bundle
        src: /etc/ssl/certs/ca-certificates.crt

- name: Tests - a local registry stands in for ECR, the repository settings go to the AWS API
  mlops.eks_platform.ecr_image:
    name: demo
    path: /tmp/context
    registry: 127.0.0.1:5000
    insecure_registry: true
    registry_auth: none
"""

RETURN = r"""
image_uri:
  description: The image by content tag, C(<registry>/<name>:<content tag>).
  returned: always
  type: str
  sample: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlflow:ctx-5f0c3b8e2a1d9c7b6a5f4e3d
image_digest_uri:
  description: The image by digest, C(<registry>/<name>@<digest>).
  returned: when the image is in the registry
  type: str
  sample: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlflow@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
digest:
  description:
    - The manifest digest, as the registry reports it for the content tag (C(Docker-Content-Digest)).
    - V(null) when the image is not in the registry (check mode before a build, or O(push=false)).
  returned: always
  type: str
  sample: sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9
context_hash:
  description: SHA-256 (hex) of the build context, Dockerfile, build args, target and platform.
  returned: always
  type: str
  sample: 5f0c3b8e2a1d9c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa99
content_tag:
  description: The content tag, O(content_tag_prefix) and the first 24 hex digits of RV(context_hash).
  returned: always
  type: str
  sample: ctx-5f0c3b8e2a1d9c7b6a5f4e3d
tags:
  description: All tags of the image this task is about, the content tag first.
  returned: always
  type: list
  elements: str
  sample: [ctx-5f0c3b8e2a1d9c7b6a5f4e3d, v1]
built:
  description: Whether the image was built in this run.
  returned: always
  type: bool
  sample: false
pushed:
  description: Whether the image was pushed in this run (re-pointing an extra tag is not a push).
  returned: always
  type: bool
  sample: false
build_seconds:
  description: How long the build took.
  returned: when RV(built) is true
  type: float
  sample: 42.3
builder:
  description: The builder that was used or would be used.
  returned: when a build or push was needed
  type: str
  sample: buildah
platform:
  description: The platform recorded in the digest (O(platform), or this host's when unset).
  returned: always
  type: str
  sample: linux/amd64
registry:
  description: The registry host the image lives in.
  returned: always
  type: str
  sample: 123456789012.dkr.ecr.eu-west-1.amazonaws.com
actions:
  description: What the task did, or would do in check mode, in order. Empty when nothing changed.
  returned: always
  type: list
  elements: str
  sample:
    - create repository
    - build 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlflow:ctx-5f0c3b8e2a1d9c7b6a5f4e3d
    - push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlflow:ctx-5f0c3b8e2a1d9c7b6a5f4e3d
    - tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlflow:v1
repository:
  description: The ECR repository, after the task. V(null) when it does not exist (yet).
  returned: always
  type: dict
  contains:
    name:
      description: Repository name.
      type: str
      returned: always
      sample: mlops/mlflow
    arn:
      description: Repository ARN.
      type: str
      returned: always
      sample: arn:aws:ecr:eu-west-1:123456789012:repository/mlops/mlflow
    uri:
      description: Repository URI.
      type: str
      returned: always
      sample: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/mlflow
    registry_id:
      description: The account that owns the registry.
      type: str
      returned: always
      sample: "123456789012"
    image_tag_mutability:
      description: V(MUTABLE) or V(IMMUTABLE).
      type: str
      returned: always
      sample: IMMUTABLE
    scan_on_push:
      description: Whether images are scanned on push.
      type: bool
      returned: always
      sample: true
    encryption_type:
      description: V(KMS) or V(AES256).
      type: str
      returned: always
      sample: KMS
    kms_key:
      description: The KMS key ARN, for KMS encryption.
      type: str
      returned: when encryption_type is KMS
      sample: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.image import EcrImage


def main():
    argument_spec = dict(
        name=dict(type="str", required=True),
        path=dict(type="path", required=True),
        dockerfile=dict(type="str", default="Dockerfile"),
        build_args=dict(type="dict", default={}),
        target=dict(type="str"),
        tags=dict(type="list", elements="str", default=[]),
        content_tag_prefix=dict(type="str", default="ctx-"),
        platform=dict(type="str"),
        builder=dict(type="str", default="auto", choices=["auto", "docker", "podman", "buildah"]),
        isolation=dict(type="str", choices=["chroot", "oci", "rootless"]),
        image_format=dict(type="str", default="docker", choices=["docker", "oci"]),
        secrets=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
            id=dict(type="str", required=True),
            src=dict(type="path", required=True),
        )),
        build_timeout=dict(type="int", default=3600),
        push=dict(type="bool", default=True),
        registry=dict(type="str"),
        insecure_registry=dict(type="bool", default=False),
        registry_auth=dict(type="str", default="ecr", choices=["ecr", "none"]),
        registry_timeout=dict(type="int", default=30),
        manage_repository=dict(type="bool", default=True),
        image_tag_mutability=dict(type="str", default="immutable", choices=["mutable", "immutable"]),
        scan_on_push=dict(type="bool", default=True),
        encryption_type=dict(type="str", default="KMS", choices=["KMS", "AES256"]),
        kms_key=dict(type="str", no_log=False),
        lifecycle_policy=dict(type="json"),
        repository_tags=dict(type="dict"),
        purge_repository_tags=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    EcrImage(module).run()


if __name__ == "__main__":
    main()
