# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The logic behind mlops.eks_platform.ecr_image: ECR repository, lookup, build, push, tags.

Order of work (so that every refusal comes before any change):

1. validate the options, the context, the Dockerfile and the secrets, find the builder;
2. compute the context digest (see ecr.context) and the content tag ``<prefix><digest[:24]>``;
3. read the ECR repository and plan its changes (an encryption conflict stops here);
4. ask the registry for the content tag: one ``HEAD`` (plus one per extra tag);
5. found: nothing to build or push (changed=false unless a repository setting or an extra tag
   must change). Not found: refuse an immutable extra tag that points elsewhere, then build
   (a failed build stops here, before the repository is created), create or update the
   repository, log in with the ECR token and push, read the digest back from the registry and
   point the extra tags at it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from base64 import b64decode

from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.builder import BuilderError
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.builder import find_builder
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.builder import usable_builder
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.builder import write_auth_dir
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.context import ContextError
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.context import context_digest
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.context import host_platform
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.registry import Registry
from ansible_collections.mlops.eks_platform.plugins.module_utils.ecr.registry import RegistryError

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing SDK

REPOSITORY_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REGISTRY = re.compile(r"^(?P<host>[A-Za-z0-9.-]+(?::[0-9]+)?|\[[0-9A-Fa-f:]+\](?::[0-9]+)?)(?P<prefix>(?:/[a-z0-9._-]+)*)/?$")
DIGEST_CHARS = 24


class PlanError(Exception):
    """A request that cannot be carried out without breaking something; nothing was changed."""


# --------------------------------------------------------------------------------------------
# The ECR repository
# --------------------------------------------------------------------------------------------

def canonical_policy(policy):
    """A lifecycle policy (dict or JSON text) as canonical JSON, for comparison."""
    if policy is None:
        return None
    if isinstance(policy, (str, bytes)):
        policy = json.loads(to_text(policy))
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def desired_repository(params):
    return dict(
        mutability=params["image_tag_mutability"].upper(),
        scan_on_push=params["scan_on_push"],
        encryption_type=params["encryption_type"],
        kms_key=params["kms_key"],
        lifecycle_policy=canonical_policy(params["lifecycle_policy"]),
        tags=params["repository_tags"],
        purge_tags=params["purge_repository_tags"],
    )


def plan_repository(existing, desired, lifecycle=None, tags=None, kms_arn=None):
    """The API calls that make ``existing`` (DescribeRepositories entry or None) look like ``desired``.

    ``lifecycle`` is the current canonical lifecycle policy (None when there is none), ``tags``
    the current tags (dict), ``kms_arn`` the ARN of ``desired['kms_key']`` when one is given.
    Returns a list of ``(description, operation, kwargs)``; the repository name is added later.
    Raises PlanError when the repository's encryption differs (ECR cannot change it).
    """
    steps = []
    if existing is None:
        encryption = {"encryptionType": desired["encryption_type"]}
        if desired["encryption_type"] == "KMS" and desired["kms_key"]:
            encryption["kmsKey"] = desired["kms_key"]
        create = dict(imageTagMutability=desired["mutability"],
                      imageScanningConfiguration={"scanOnPush": desired["scan_on_push"]},
                      encryptionConfiguration=encryption)
        if desired["tags"]:
            create["tags"] = ansible_dict_to_boto3_tag_list(desired["tags"])
        steps.append(("create repository", "create_repository", create))
        if desired["lifecycle_policy"]:
            steps.append(("set lifecycle policy", "put_lifecycle_policy",
                          dict(lifecyclePolicyText=desired["lifecycle_policy"])))
        return steps

    current_encryption = existing.get("encryptionConfiguration") or {"encryptionType": "AES256"}
    if current_encryption.get("encryptionType") != desired["encryption_type"]:
        raise PlanError(
            "repository %s is encrypted with %s, not %s, and ECR cannot change the encryption of an existing "
            "repository: set encryption_type=%s, or delete and recreate the repository"
            % (existing["repositoryName"], current_encryption.get("encryptionType"), desired["encryption_type"],
               current_encryption.get("encryptionType")))
    if desired["encryption_type"] == "KMS" and desired["kms_key"]:
        current_key = current_encryption.get("kmsKey")
        if kms_arn and current_key and current_key != kms_arn:
            raise PlanError(
                "repository %s is encrypted with the KMS key %s, not %s (%s), and ECR cannot change the key of an "
                "existing repository" % (existing["repositoryName"], current_key, desired["kms_key"], kms_arn))

    if existing.get("imageTagMutability") != desired["mutability"]:
        steps.append(("set image tag mutability to %s" % desired["mutability"], "put_image_tag_mutability",
                      dict(imageTagMutability=desired["mutability"])))
    scanning = (existing.get("imageScanningConfiguration") or {}).get("scanOnPush", False)
    if scanning != desired["scan_on_push"]:
        steps.append(("set scan on push to %s" % desired["scan_on_push"], "put_image_scanning_configuration",
                      dict(imageScanningConfiguration={"scanOnPush": desired["scan_on_push"]})))
    if desired["lifecycle_policy"] and desired["lifecycle_policy"] != lifecycle:
        steps.append(("set lifecycle policy", "put_lifecycle_policy",
                      dict(lifecyclePolicyText=desired["lifecycle_policy"])))
    if desired["tags"] is not None:
        to_set, to_unset = compare_aws_tags(tags or {}, desired["tags"], desired["purge_tags"])
        if to_set:
            steps.append(("tag repository: %s" % ", ".join(sorted(to_set)), "tag_resource",
                          dict(resourceArn=existing["repositoryArn"], tags=ansible_dict_to_boto3_tag_list(to_set))))
        if to_unset:
            steps.append(("untag repository: %s" % ", ".join(sorted(to_unset)), "untag_resource",
                          dict(resourceArn=existing["repositoryArn"], tagKeys=sorted(to_unset))))
    return steps


def repository_info(repo):
    if not repo:
        return None
    encryption = repo.get("encryptionConfiguration") or {}
    return dict(
        name=repo.get("repositoryName"),
        arn=repo.get("repositoryArn"),
        uri=repo.get("repositoryUri"),
        registry_id=repo.get("registryId"),
        image_tag_mutability=repo.get("imageTagMutability"),
        scan_on_push=(repo.get("imageScanningConfiguration") or {}).get("scanOnPush", False),
        encryption_type=encryption.get("encryptionType"),
        kms_key=encryption.get("kmsKey"),
    )


def plan_tags(found_digest, extra, immutable, repository, content_tag):
    """Which extra tags to (re)point, refusing immutable ones that point at another image.

    ``found_digest`` is the digest of the content tag, or None when a new image will be built;
    ``extra`` maps each extra tag to the digest it points at now (None when absent).
    """
    moves = []
    for tag in sorted(extra):
        current = extra[tag]
        if current is not None and current == found_digest:
            continue
        if current is not None and immutable:
            if found_digest is None:
                why = "the build context changed (its image gets the new tag %s)" % content_tag
            else:
                why = "the image of the current context, %s, is %s" % (content_tag, found_digest)
            raise PlanError(
                "tag %s of repository %s is immutable and already points at %s, but %s; an immutable tag "
                "cannot be moved. Use a new tag (for example a new version), or set image_tag_mutability=mutable."
                % (tag, repository, current, why))
        moves.append(tag)
    return moves


# --------------------------------------------------------------------------------------------
# The module's run
# --------------------------------------------------------------------------------------------

class EcrImage(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.result = dict(changed=False, built=False, pushed=False, actions=[])
        self._ecr = None
        self.context = self.dockerfile = self.content_tag = None
        self.build_args = {}
        self.repo = None
        self.steps = []
        self.registry = self.repository_path = self.base_uri = self.credentials = None

    # -- helpers --------------------------------------------------------------------------

    def fail(self, msg, **kwargs):
        result = dict(self.result)
        result.update(kwargs)
        self.module.fail_json(msg=msg, **result)

    @property
    def ecr(self):
        if self._ecr is None:
            self._ecr = self.module.client("ecr", retry_decorator=retry_decorator())
        return self._ecr

    def aws(self, what, operation, **kwargs):
        try:
            return getattr(self.ecr, operation)(aws_retry=True, **kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.module.fail_json_aws(e, msg="Failed to %s" % what, **self.result)

    # -- steps ----------------------------------------------------------------------------

    def validate(self):
        p = self.params
        if not REPOSITORY_NAME.match(p["name"]) or not 2 <= len(p["name"]) <= 256:
            self.fail("name %r is not a valid ECR repository name (2 to 256 characters: lowercase letters, "
                      "digits and ._- separators, optionally with / namespaces)" % p["name"])
        for tag in (p["tags"] or []) + [p["content_tag_prefix"] + "0" * DIGEST_CHARS]:
            if not TAG.match(tag):
                self.fail("tag %r is not a valid image tag (letters, digits, _ . -, at most 128 characters, "
                          "not starting with . or -); check tags and content_tag_prefix" % tag)
        if p["registry"] and not REGISTRY.match(p["registry"]):
            self.fail("registry %r is not host[:port][/path] (no scheme)" % p["registry"])
        if p["kms_key"] and p["encryption_type"] != "KMS":
            self.fail("kms_key is set, but encryption_type is %s; set encryption_type=KMS" % p["encryption_type"])
        if p["registry_auth"] == "none" and not p["registry"]:
            self.fail("registry_auth=none needs registry: Amazon ECR always needs the authorization token")
        context = os.path.abspath(os.path.expanduser(p["path"]))
        if not os.path.isdir(context):
            self.fail("the build context %s does not exist or is not a directory (option path)" % context)
        dockerfile = os.path.expanduser(p["dockerfile"])
        dockerfile = dockerfile if os.path.isabs(dockerfile) else os.path.join(context, dockerfile)
        if not os.path.isfile(dockerfile):
            self.fail("the Dockerfile %s does not exist (option dockerfile, relative to path)" % dockerfile)
        for secret in p["secrets"] or []:
            if not os.path.isfile(os.path.expanduser(secret["src"])):
                self.fail("the source %s of build secret %s does not exist" % (secret["src"], secret["id"]))
        try:
            find_builder(p["builder"])
        except BuilderError as e:
            self.fail(to_native(e))
        self.context, self.dockerfile = context, dockerfile

    def digest_context(self):
        p = self.params
        build_args = {k: to_text(v) for k, v in (p["build_args"] or {}).items()}
        try:
            digest = context_digest(self.context, self.dockerfile, build_args=build_args,
                                    platform=p["platform"], target=p["target"], image_format=p["image_format"])
        except ContextError as e:
            self.fail(to_native(e))
        self.build_args = build_args
        self.content_tag = p["content_tag_prefix"] + digest[:DIGEST_CHARS]
        self.result.update(context_hash=digest, content_tag=self.content_tag,
                           platform=p["platform"] or host_platform())

    def read_repository(self):
        """The ECR repository (or None), its lifecycle policy and tags when they are managed."""
        p = self.params
        uses_ecr_repo = p["manage_repository"] or not p["registry"]
        self.repo, lifecycle, tags, kms_arn = None, None, None, None
        self.steps = []
        if not uses_ecr_repo:
            return
        try:
            found = self.ecr.describe_repositories(repositoryNames=[p["name"]], aws_retry=True)["repositories"]
            self.repo = found[0] if found else None
        except is_boto3_error_code("RepositoryNotFoundException"):
            self.repo = None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg="Failed to read ECR repository %s" % p["name"])
        if not p["manage_repository"]:
            if self.repo is None and not p["registry"]:
                self.fail("ECR repository %s does not exist and manage_repository=false" % p["name"])
            return
        desired = desired_repository(p)
        if self.repo is not None:
            if desired["lifecycle_policy"]:
                try:
                    text = self.ecr.get_lifecycle_policy(repositoryName=p["name"], aws_retry=True)
                    lifecycle = canonical_policy(text.get("lifecyclePolicyText"))
                except is_boto3_error_code("LifecyclePolicyNotFoundException"):
                    lifecycle = None
                except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
                    self.module.fail_json_aws(e, msg="Failed to read the lifecycle policy of %s" % p["name"])
            if desired["tags"] is not None:
                listed = self.aws("list the tags of %s" % p["name"], "list_tags_for_resource",
                                  resourceArn=self.repo["repositoryArn"])
                tags = boto3_tag_list_to_ansible_dict(listed.get("tags") or [])
            if desired["encryption_type"] == "KMS" and desired["kms_key"]:
                kms_arn = self.kms_key_arn(desired["kms_key"])
        try:
            self.steps = plan_repository(self.repo, desired, lifecycle=lifecycle, tags=tags, kms_arn=kms_arn)
        except PlanError as e:
            self.fail(to_native(e), repository=repository_info(self.repo))

    def kms_key_arn(self, key):
        if key.startswith("arn:") and ":key/" in key:
            return key
        kms = self.module.client("kms", retry_decorator=retry_decorator())
        try:
            return kms.describe_key(KeyId=key, aws_retry=True)["KeyMetadata"]["Arn"]
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            self.module.fail_json_aws(e, msg="Failed to resolve the KMS key %s" % key)

    def immutable(self):
        if self.params["manage_repository"] or not self.repo:
            return self.params["image_tag_mutability"] == "immutable"
        return (self.repo.get("imageTagMutability") or "").startswith("IMMUTABLE")

    def connect_registry(self):
        p = self.params
        username = password = endpoint = None
        if p["registry_auth"] == "ecr":
            kwargs = {}
            if self.repo and self.repo.get("registryId"):
                kwargs["registryIds"] = [self.repo["registryId"]]
            data = self.aws("get an ECR authorization token", "get_authorization_token", **kwargs)["authorizationData"][0]
            token = data["authorizationToken"]
            self.module.no_log_values.add(token)
            username, dummy, password = to_text(b64decode(token)).partition(":")
            self.module.no_log_values.add(password)
            endpoint = data.get("proxyEndpoint")
        if p["registry"]:
            match = REGISTRY.match(p["registry"])
            host, prefix = match.group("host"), match.group("prefix").strip("/")
        elif self.repo:
            host = self.repo["repositoryUri"].split("/", 1)[0]
            prefix = ""
        else:
            host = re.sub(r"^https?://", "", endpoint or "").rstrip("/")
            prefix = ""
        self.repository_path = (prefix + "/" if prefix else "") + p["name"]
        self.registry = Registry(host, username=username, password=password, insecure=p["insecure_registry"],
                                 validate_certs=p["validate_certs"], timeout=p["registry_timeout"])
        self.credentials = (username, password) if username else None
        base = "%s/%s" % (host, self.repository_path)
        self.result.update(registry=host, image_uri="%s:%s" % (base, self.content_tag))
        self.base_uri = base

    def lookup(self, tag):
        try:
            return self.registry.manifest_digest(self.repository_path, tag)
        except RegistryError as e:
            self.fail("Failed to look up %s:%s in the registry: %s" % (self.base_uri, tag, to_native(e)))

    def run(self):
        p = self.params
        self.validate()
        self.digest_context()
        self.read_repository()
        self.connect_registry()

        extra_tags = [t for t in dict.fromkeys(p["tags"] or []) if t != self.content_tag]
        # A repository that does not exist yet has no tags; a stand-in registry is always asked.
        can_have_tags = self.repo is not None or bool(p["registry"])
        found = self.lookup(self.content_tag) if can_have_tags else None
        extra = {t: (self.lookup(t) if can_have_tags else None) for t in extra_tags}
        self.result["tags"] = [self.content_tag] + extra_tags

        if not p["push"]:
            return self.run_local(found)

        try:
            moves = plan_tags(found, extra, self.immutable(), self.base_uri, self.content_tag)
        except PlanError as e:
            self.fail(to_native(e), repository=repository_info(self.repo))

        actions = [step[0] for step in self.steps]
        builder = local = None
        if found is None:
            builder = self.builder()
            local = builder.local_image_exists(self.result["image_uri"])
            if not local:
                actions.append("build %s" % self.result["image_uri"])
            actions.append("push %s" % self.result["image_uri"])
        actions += ["tag %s:%s" % (self.base_uri, t) for t in moves]
        self.result.update(actions=actions, changed=bool(actions), digest=found,
                           repository=repository_info(self.repo))
        if found:
            self.result["image_digest_uri"] = "%s@%s" % (self.base_uri, found)
        if self.module.check_mode or not actions:
            self.module.exit_json(**self.result)

        auth_dir = tempfile.mkdtemp(prefix="ecr_image-")
        try:
            if self.credentials:
                write_auth_dir(auth_dir, self.registry.host, *self.credentials)
            if found is None and not local:
                self.build(builder, auth_dir)
            self.apply_repository()
            digest = found
            if found is None:
                digest = self.push(builder, auth_dir)
            self.retag(digest, moves)
        finally:
            shutil.rmtree(auth_dir, ignore_errors=True)
        self.result.update(digest=digest, image_digest_uri="%s@%s" % (self.base_uri, digest))
        self.module.exit_json(**self.result)

    def run_local(self, found):
        """push=false: build into the builder's local storage only; the repository is left alone."""
        self.result.update(repository=repository_info(self.repo), digest=found)
        if found:
            self.result["image_digest_uri"] = "%s@%s" % (self.base_uri, found)
            self.module.exit_json(**self.result)
        builder = self.builder()
        if builder.local_image_exists(self.result["image_uri"]):
            self.module.exit_json(**self.result)
        self.result.update(changed=True, actions=["build %s" % self.result["image_uri"]])
        if self.module.check_mode:
            self.module.exit_json(**self.result)
        auth_dir = tempfile.mkdtemp(prefix="ecr_image-")
        try:
            if self.credentials:
                write_auth_dir(auth_dir, self.registry.host, *self.credentials)
            self.build(builder, auth_dir)
        finally:
            shutil.rmtree(auth_dir, ignore_errors=True)
        self.module.exit_json(**self.result)

    def builder(self):
        try:
            builder = usable_builder(self.params["builder"])
        except BuilderError as e:
            self.fail(to_native(e))
        self.result["builder"] = builder.name
        return builder

    def build(self, builder, auth_dir):
        p = self.params
        authfile = os.path.join(auth_dir, "config.json") if self.credentials else None
        secrets = [dict(id=s["id"], src=os.path.abspath(os.path.expanduser(s["src"]))) for s in p["secrets"] or []]
        started = time.time()
        try:
            builder.build(context=self.context, dockerfile=self.dockerfile, image=self.result["image_uri"],
                          build_args=self.build_args, secrets=secrets, platform=p["platform"], target=p["target"],
                          isolation=p["isolation"], authfile=authfile, insecure=p["insecure_registry"],
                          image_format=p["image_format"],
                          timeout=p["build_timeout"])
        except BuilderError as e:
            self.fail(to_native(e))
        self.result.update(built=True, build_seconds=round(time.time() - started, 1))

    def apply_repository(self):
        name = self.params["name"]
        for description, operation, kwargs in self.steps:
            kwargs = dict(kwargs)
            if operation not in ("tag_resource", "untag_resource"):
                kwargs["repositoryName"] = name
            response = self.aws("%s %s" % (description, name), operation, **kwargs)
            if operation == "create_repository":
                self.repo = response["repository"]
                self.steps = [(d, o, dict(k, resourceArn=self.repo["repositoryArn"]) if "resourceArn" in k else k)
                              for d, o, k in self.steps]
        if self.steps:
            described = self.aws("read ECR repository %s" % name, "describe_repositories", repositoryNames=[name])
            self.repo = described["repositories"][0]
        self.result["repository"] = repository_info(self.repo)

    def push(self, builder, auth_dir):
        image = self.result["image_uri"]
        try:
            builder.push(image, image, auth_dir if self.credentials else None, insecure=self.params["insecure_registry"],
                         timeout=self.params["build_timeout"], work_dir=auth_dir)
        except BuilderError as e:
            self.fail(to_native(e))
        self.result["pushed"] = True
        digest = self.lookup(self.content_tag)
        if digest is None:
            self.fail("%s pushed %s, but the registry does not list the tag %s afterwards"
                      % (builder.name, image, self.content_tag))
        return digest

    def retag(self, digest, moves):
        if not moves:
            return
        try:
            manifest = self.registry.get_manifest(self.repository_path, digest)
            if manifest is None:
                self.fail("the registry has no manifest %s@%s to tag" % (self.base_uri, digest))
            body, media_type, dummy = manifest
            for tag in moves:
                self.registry.put_manifest(self.repository_path, tag, body, media_type)
        except RegistryError as e:
            self.fail("Failed to tag %s@%s: %s" % (self.base_uri, digest, to_native(e)))
