# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults: throttled and failing AWS APIs, interrupted deploys, a failed Helm upgrade.

The AWS faults come from the emulator (tests/tools/moto_patches/fault_injection.py): a share of
the signed API requests is answered with the service's own throttling error or a 500/503, in
the shape of its protocol, so botocore turns them into the same ``ClientError`` as AWS does.

Two layers retry an AWS call in this collection, and the tests keep them apart:

1. botocore's retry handler (``standard`` mode, this botocore's default: 3 attempts, exponential
   backoff, a retry quota per client) retries every throttling code and every 500/503, whatever
   the module. ``test_fault_switch`` shows each protocol's fault reaching a
   client with retries off and the same faults absorbed with botocore's defaults
   (``retried_by_sdk``: the server saw the same ``amz-sdk-invocation-id`` again).
2. ``AWSRetry.jittered_backoff`` (amazon.aws module_utils) in the modules: it retries
   ``RequestLimitExceeded``, ``Throttling``, ``InternalError``, ``InternalFailure``,
   ``ServiceUnavailable``, ``Unavailable`` and ``TooManyRequestsException`` and nothing else: not
   ``ThrottlingException``, the throttling code of the JSON APIs, nor S3's ``SlowDown``. This
   collection's own modules (EKS, EFS, ECR, IAM OIDC, the deploy key) add ``ThrottlingException``
   (plugins/module_utils/retry.py). The deploy tests switch botocore's retries off
   (``AWS_MAX_ATTEMPTS=1``), so every injected fault reaches the module; a run converges only when
   each call is wrapped in AWSRetry, and the server counts each fault that came back as a new call
   (``retried_by_caller``). Their throttling faults spare S3's protocol (``throttle_protocols``),
   whose ``SlowDown`` amazon.aws.s3_bucket's AWSRetry does not know, and three services get no
   faults at all, because the
   module the roles use for them calls AWS without AWSRetry (amazon.aws 10.1, community.aws 10):
   ``kms`` (amazon.aws.kms_key wraps only its reads: a 5xx on CreateAlias fails the task after
   CreateKey made the key, and the rerun, finding no alias, makes a second key), ``logs``
   (amazon.aws.cloudwatchlogs_log_group) and ``secretsmanager``
   (community.aws.secretsmanager_secret). For those, botocore's three attempts are the only
   retry; ``make faults`` runs site.yml through them with botocore's retries on.

   A faulted *read* may also end without a retry: amazon.aws's own waiters
   (module_utils/waiters.py, ``_inject_limit_retries``) accept ``RequestLimitExceeded``, 5xx and
   ``Throttling`` as the *success* state, so a faulted poll ends the wait as if the resource were
   ready. The tests list those faults with their tasks; every faulted *write* must be retried.

The deploy tests run in a stack of their own (``<test sandbox dir>-faults``: moto with the fault
switch, and a local control plane), started through ``python -m sandbox``. In ``make test``:
the switch itself, the cluster layer killed once mid-run and converged under faults, and the
MLflow role's atomic rollback of a failed upgrade. The whole site.yml under faults and
interrupted at three points is in tests/integration/faults_full.py (``make faults``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

import sandbox as sandbox_tool
from figures import write_figures
from platform_state import pages

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
VENV_BIN = os.path.dirname(sys.executable)
INVENTORY = os.path.join(REPO_ROOT, "inventories", "sandbox")
FAULT_SANDBOX_DIR = (os.environ.get("MLOPS_TEST_SANDBOX_DIR")
                     or os.path.join(REPO_ROOT, "build", "test-sandbox")) + "-faults"
# What the emulator starts with (proves the environment switch); tests then switch at run time.
START_SPEC = "throttle=0.25,seed=11"
# Faults of the AWSRetry-layer deploy runs: 5xx on every service but the three whose modules do
# not use AWSRetry, throttling wherever the module's AWSRetry knows the code (see the docstring).
AWSRETRY_SPEC = ("throttle=0.04,error5xx=0.04,throttle_protocols=ec2+query+json+rest-json,"
                 "except_services=kms+logs+secretsmanager,seed=%d")
READ_OPERATION = re.compile(r":(Describe|List|Get|Head|GET |HEAD )")
CLUSTER = "mlops-sandbox"
RECAP = re.compile(r"^localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                   r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)")


# --------------------------------------------------------------------------------------------
# The stack with the fault switch
# --------------------------------------------------------------------------------------------

class FaultStack:
    """moto (with MLOPS_MOTO_FAULTS) and a local control plane in a directory of their own."""

    def __init__(self, root, base_env):
        self.root = root
        self.base_env = base_env
        self.sandbox_env = {}

    def _sandbox(self, *args, extra_env=None):
        env = dict(self.base_env, **(extra_env or {}))
        proc = subprocess.run(sandbox_tool.command("--dir", self.root, *args), env=sandbox_tool.command_env(env), check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
        if proc.returncode != 0:
            raise AssertionError("sandbox %s failed:\n%s" % (" ".join(args), proc.stdout[-4000:]))
        self._read_env()

    def _read_env(self):
        self.sandbox_env = {}
        path = os.path.join(self.root, "env")
        if os.path.exists(path):
            with open(path) as handle:
                for line in handle:
                    match = re.match(r"^export (\w+)=(.*)$", line.strip())
                    if match:
                        self.sandbox_env[match.group(1)] = match.group(2)

    def up(self, spec):
        os.makedirs(self.root, exist_ok=True)
        # A server left from an earlier session may run without the switch: start afresh.
        self._sandbox("down")
        self._sandbox("up", extra_env={"MLOPS_MOTO_FAULTS": spec,
                                       "MLOPS_MOTO_FAULTS_FILE": os.path.join(self.root, "faults.json")})

    def down(self):
        self._sandbox("down")

    def fresh_cluster(self):
        """A new, empty control plane (its etcd data goes with ``down``)."""
        self._sandbox("down", "--only", "kube")
        self._sandbox("up", "--only", "kube")

    @property
    def endpoint(self):
        return self.sandbox_env["AWS_ENDPOINT_URL"]

    @property
    def env(self):
        return dict(self.base_env, **self.sandbox_env)

    def _api(self, path, data=None):
        req = urllib.request.Request(self.endpoint + path, data=data, method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read().decode()

    def faults(self, spec=None):
        """The fault counts; with ``spec``, switch to it first (``off`` stops faults, counts restart)."""
        text = self._api("/moto-api/faults", spec.encode() if spec is not None else None)
        return json.loads(text)

    def reset_aws(self):
        self._api("/moto-api/reset", b"")

    def client(self, service, **config):
        import boto3
        import botocore.config

        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.sandbox_env["AWS_REGION"],
                            aws_access_key_id=self.sandbox_env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.sandbox_env["AWS_SECRET_ACCESS_KEY"],
                            config=botocore.config.Config(**config) if config else None)

    def tool(self, name, *args, check=True):
        proc = subprocess.run([os.path.join(VENV_BIN, name)] + list(args), env=self.env, check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError("%s %s failed: %s" % (name, " ".join(args), proc.stderr[-3000:]))
        return proc.stdout


@pytest.fixture(scope="module")
def fault_stack(ansible_env):
    stack = FaultStack(FAULT_SANDBOX_DIR, ansible_env)
    try:
        stack.up(START_SPEC)
        yield stack
    finally:
        stack.down()


# --------------------------------------------------------------------------------------------
# Running (and killing) a playbook
# --------------------------------------------------------------------------------------------

class KillPoint:
    """Where to interrupt a run: when a line of its output matches ``pattern`` (or, with
    ``helm=True``, once a ``helm upgrade/install`` process of the run exists), and a line matched
    ``after`` before it (if given), wait ``delay`` seconds, then send ``sig``.

    SIGKILL goes to the whole process tree (ansible-playbook, its workers, the modules and the
    helm they run): ansible-core 2.19 workers call setsid(), so a process-group kill would leave
    the module running. That is what a lost CI runner or AWX pod does. SIGINT goes to
    ansible-playbook alone, as a terminal's Ctrl-C does (the workers are not in its group)."""

    def __init__(self, name, pattern=None, helm=False, delay=0.0, sig=signal.SIGKILL, after=None):
        self.name, self.pattern, self.helm, self.delay, self.sig = name, pattern, helm, delay, sig
        self.regex = re.compile(pattern) if pattern else None
        self.after = re.compile(after) if after else None


def _processes():
    """pid -> (parent pid, start time, command line) of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            table[int(entry)] = (int(fields[1]), fields[19], cmdline)
        except (OSError, ValueError, IndexError):
            continue
    return table


def _tree(root):
    """{pid: start time} of ``root`` and its descendants."""
    table = _processes()
    found, queue = {}, [root]
    while queue:
        pid = queue.pop()
        if pid in table and pid not in found:
            found[pid] = table[pid][1]
            queue.extend(child for child, info in table.items() if info[0] == pid)
    return found


def _helm_running(root):
    table = _processes()
    return any(re.search(r"(^|/)helm\b.* (upgrade|install)\b", table[pid][2]) for pid in _tree(root) if pid in table)


def _signal_all(pids, sig):
    """Signal the processes that still are what they were (same start time)."""
    table = _processes()
    for pid, started in pids.items():
        if pid in table and table[pid][1] == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _kill_tree(root, known):
    """SIGKILL ``root``, its descendants and every process of the run seen before: stop them
    first so that none forks a new child in between."""
    for _round in range(3):
        known.update(_tree(root))
        _signal_all(known, signal.SIGSTOP)
    known.update(_tree(root))
    _signal_all(known, signal.SIGKILL)


def run_playbook(stack, playbook, extra_env=None, kill=None, timeout=1800, extra_args=()):
    """Run ``playbook`` against inventories/sandbox in the fault stack (see run_killable)."""
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", INVENTORY, playbook] + list(extra_args)
    return run_killable(argv, dict(stack.env, **(extra_env or {})), kill=kill, timeout=timeout)


def run_killable(argv, env, kill=None, timeout=1800):
    """Run an ansible-playbook command line; returns a namespace with rc, output, seconds, killed
    (the line or event the kill followed), recap (dict or None) and stamps (timestamped output
    lines). Nothing the run started outlives it."""
    playbook = [a for a in argv if a.endswith(".yml")][-1]
    started = time.time()
    proc = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    lines, stamps, trigger = [], [], {}
    armed = [kill is not None and kill.after is None]
    known = {}  # every process of the run seen so far: pid -> start time

    def reader():
        for line in proc.stdout:
            lines.append(line)
            stamps.append((time.time(), line))
            if kill and not armed[0] and kill.after.search(line):
                armed[0] = True
            elif kill and armed[0] and kill.regex and "at" not in trigger and kill.regex.search(line):
                trigger.update(at=time.time(), what=line.strip())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    killed = None
    try:
        while proc.poll() is None:
            now = time.time()
            known.update(_tree(proc.pid))
            if now - started > timeout:
                _kill_tree(proc.pid, known)
                proc.wait()
                raise AssertionError("%s did not finish within %ss:\n%s" % (playbook, timeout, "".join(lines)[-5000:]))
            if kill and killed is None:
                if kill.helm and armed[0] and "at" not in trigger and _helm_running(proc.pid):
                    trigger.update(at=now, what="helm upgrade --install running")
                if "at" in trigger and now >= trigger["at"] + kill.delay:
                    killed = "%s (%s, %.1fs in)" % (trigger["what"], signal.Signals(kill.sig).name, now - started)
                    if kill.sig == signal.SIGKILL:
                        _kill_tree(proc.pid, known)
                    else:
                        os.kill(proc.pid, kill.sig)
                        try:  # a graceful interrupt gets a minute to stop
                            proc.wait(timeout=60)
                        except subprocess.TimeoutExpired:
                            _kill_tree(proc.pid, known)
            time.sleep(0.5)
    finally:
        # A worker or module still running after its run ended is stopped too, so the next run
        # starts alone.
        _signal_all(known, signal.SIGKILL)
        thread.join(timeout=30)
    output = "".join(lines)
    recaps = [RECAP.match(line) for line in output.splitlines()]
    recaps = [m for m in recaps if m]
    recap = None
    if recaps:
        keys = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
        recap = dict(zip(keys, (int(v) for v in recaps[-1].groups())))
    return types.SimpleNamespace(rc=proc.returncode, output=output, seconds=time.time() - started, killed=killed,
                                 recap=recap, playbook=os.path.basename(playbook), stamps=stamps)


def task_at(run, when):
    """The task a run was in at time ``when`` (from its timestamped output)."""
    current = "(before the first task)"
    for stamp, line in run.stamps:
        if stamp > when:
            break
        if line.startswith("TASK ["):
            current = line.strip().rstrip("*").strip()
    return current


def unretried(report, run):
    """The faults nobody retried, each with the task that got it."""
    return ["%s %s (attempt %s) in %s: %s" % (e["operation"], e["code"], e["attempt"], task_at(run, e["t"]),
                                              e["request"][:240])
            for e in report.get("log", []) if e["retried_by"] is None]


def assert_converged(run):
    assert run.rc == 0 and run.recap and run.recap["failed"] == 0, (
        "%s did not converge (rc %s):\n%s" % (run.playbook, run.rc, run.output[-8000:]))


# --------------------------------------------------------------------------------------------
# The platform's state, normalised (no generated ids), and its duplicates
# --------------------------------------------------------------------------------------------

ID_PATTERNS = [
    (re.compile(r"\b(vpc|subnet|sg|nat|eipalloc|eipassoc|igw|rtb|rtbassoc|fs|fsap|fsmt|lt|eni|acl|i)-[0-9a-f]{8,17}\b"),
     r"\1-*"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\b[0-9A-F]{32}\b"), "<hex>"),  # EKS OIDC issuer ids
    (re.compile(r"(?<![0-9a-z])[0-9a-f]{8,}(?![0-9a-z])"), "<hex>"),  # content hashes in Job/ConfigMap names
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d+\.\d+\.\d+\.\d+\b(?!/)"), "<ip>"),
]


def normalise(value):
    if isinstance(value, str):
        for pattern, repl in ID_PATTERNS:
            value = pattern.sub(repl, value)
        return value
    if isinstance(value, dict):
        return {normalise(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    return value


def _tags(pairs, key="Key", value="Value"):
    if isinstance(pairs, dict):
        return dict(sorted(pairs.items()))
    return dict(sorted((p[key], p[value]) for p in pairs or []))


def aws_state(stack):
    """What the platform owns in the account, named by names and tags instead of generated ids."""
    items = []

    def add(kind, **fields):
        items.append(dict(kind=kind, **fields))

    ec2 = stack.client("ec2")
    vpc_names = {v["VpcId"]: _tags(v.get("Tags")).get("Name", v["CidrBlock"]) for v in pages(ec2, "describe_vpcs", "Vpcs")}
    for vpc in pages(ec2, "describe_vpcs", "Vpcs"):
        if not vpc.get("IsDefault"):
            add("ec2/vpc", cidr=vpc["CidrBlock"], tags=_tags(vpc.get("Tags")))
    subnet_names = {}
    for subnet in pages(ec2, "describe_subnets", "Subnets"):
        if subnet.get("DefaultForAz"):
            continue
        tags = _tags(subnet.get("Tags"))
        subnet_names[subnet["SubnetId"]] = tags.get("Name", subnet["CidrBlock"])
        add("ec2/subnet", cidr=subnet["CidrBlock"], zone=subnet["AvailabilityZone"], vpc=vpc_names.get(subnet["VpcId"]),
            tags=tags)
    groups = list(pages(ec2, "describe_security_groups", "SecurityGroups"))
    group_names = {g["GroupId"]: g["GroupName"] for g in groups}

    def rules(permissions):
        out = []
        for perm in permissions:
            out.append({"proto": perm.get("IpProtocol"), "from": perm.get("FromPort"), "to": perm.get("ToPort"),
                        "cidrs": sorted(r["CidrIp"] for r in perm.get("IpRanges", [])),
                        "groups": sorted(group_names.get(g["GroupId"], g["GroupId"])
                                         for g in perm.get("UserIdGroupPairs", []))})
        return sorted(out, key=json.dumps)

    for group in groups:
        if group["GroupName"] == "default":
            continue
        add("ec2/security-group", name=group["GroupName"], vpc=vpc_names.get(group.get("VpcId")),
            tags=_tags(group.get("Tags")), ingress=rules(group.get("IpPermissions", [])),
            egress=rules(group.get("IpPermissionsEgress", [])))
    for nat in pages(ec2, "describe_nat_gateways", "NatGateways"):
        if nat.get("State") not in ("deleted", "deleting", "failed"):
            add("ec2/nat-gateway", subnet=subnet_names.get(nat.get("SubnetId")), tags=_tags(nat.get("Tags")),
                state=nat.get("State"))
    for address in ec2.describe_addresses().get("Addresses", []):
        add("ec2/elastic-ip", associated=bool(address.get("AssociationId")), tags=_tags(address.get("Tags")))
    for gateway in pages(ec2, "describe_internet_gateways", "InternetGateways"):
        add("ec2/internet-gateway", vpcs=sorted(vpc_names.get(a["VpcId"]) for a in gateway.get("Attachments", [])),
            tags=_tags(gateway.get("Tags")))
    for table in pages(ec2, "describe_route_tables", "RouteTables"):
        routes = sorted("%s->%s" % (r.get("DestinationCidrBlock"), (r.get("GatewayId") or r.get("NatGatewayId") or "?")
                                    .split("-")[0]) for r in table.get("Routes", []))
        subnets = sorted(subnet_names.get(a.get("SubnetId"), "main" if a.get("Main") else "?")
                         for a in table.get("Associations", []))
        add("ec2/route-table", vpc=vpc_names.get(table["VpcId"]), tags=_tags(table.get("Tags")), routes=routes,
            subnets=subnets)
    for template in pages(ec2, "describe_launch_templates", "LaunchTemplates"):
        add("ec2/launch-template", name=template["LaunchTemplateName"], tags=_tags(template.get("Tags")))

    eks = stack.client("eks")
    for name in pages(eks, "list_clusters", "clusters"):
        cluster = eks.describe_cluster(name=name)["cluster"]
        add("eks/cluster", name=name, version=cluster.get("version"), status=cluster.get("status"),
            tags=cluster.get("tags") or {}, logging=cluster.get("logging"),
            access=cluster.get("resourcesVpcConfig", {}).get("endpointPublicAccess"))
        for group in pages(eks, "list_nodegroups", "nodegroups", clusterName=name):
            ng = eks.describe_nodegroup(clusterName=name, nodegroupName=group)["nodegroup"]
            add("eks/nodegroup", name=name + "/" + group, status=ng.get("status"), scaling=ng.get("scalingConfig"),
                labels=ng.get("labels"), taints=ng.get("taints"), tags=ng.get("tags") or {},
                instance_types=ng.get("instanceTypes"))
        for addon in pages(eks, "list_addons", "addons", clusterName=name):
            detail = eks.describe_addon(clusterName=name, addonName=addon)["addon"]
            add("eks/addon", name=name + "/" + addon, version=detail.get("addonVersion"),
                role=detail.get("serviceAccountRoleArn"))

    rds = stack.client("rds")
    for db in pages(rds, "describe_db_instances", "DBInstances"):
        add("rds/db-instance", name=db["DBInstanceIdentifier"], engine=db.get("Engine"), version=db.get("EngineVersion"),
            klass=db.get("DBInstanceClass"), storage=db.get("AllocatedStorage"), multi_az=db.get("MultiAZ"),
            status=db.get("DBInstanceStatus"), tags=_tags(db.get("TagList")),
            groups=sorted(group_names.get(g["VpcSecurityGroupId"], "?") for g in db.get("VpcSecurityGroups", [])))
    for group in pages(rds, "describe_db_subnet_groups", "DBSubnetGroups"):
        add("rds/db-subnet-group", name=group["DBSubnetGroupName"],
            subnets=sorted(subnet_names.get(s["SubnetIdentifier"], "?") for s in group.get("Subnets", [])))
    for group in pages(rds, "describe_db_parameter_groups", "DBParameterGroups"):
        if not group["DBParameterGroupName"].startswith("default."):
            add("rds/db-parameter-group", name=group["DBParameterGroupName"], family=group.get("DBParameterGroupFamily"))

    efs = stack.client("efs")
    tokens = {}
    for system in pages(efs, "describe_file_systems", "FileSystems"):
        tokens[system["FileSystemId"]] = system.get("CreationToken")
        add("efs/file-system", token=system.get("CreationToken"), encrypted=system.get("Encrypted"),
            state=system.get("LifeCycleState"), tags=_tags(system.get("Tags")),
            throughput=system.get("ThroughputMode"))
        for target in pages(efs, "describe_mount_targets", "MountTargets", FileSystemId=system["FileSystemId"]):
            add("efs/mount-target", token=system.get("CreationToken"), subnet=subnet_names.get(target["SubnetId"]),
                state=target.get("LifeCycleState"))
    for point in pages(efs, "describe_access_points", "AccessPoints"):
        add("efs/access-point", token=tokens.get(point.get("FileSystemId")), tags=_tags(point.get("Tags")),
            root=point.get("RootDirectory", {}).get("Path"), user=point.get("PosixUser"))

    iam = stack.client("iam")
    for role in pages(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        add("iam/role", name=role["Path"] + name, tags=_tags(iam.list_role_tags(RoleName=name).get("Tags")),
            attached=sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
            inline=sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]))
    for policy in pages(iam, "list_policies", "Policies", Scope="Local"):
        add("iam/policy", name=policy["PolicyName"])
    for provider in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        detail = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
        add("iam/oidc-provider", url=detail.get("Url"), clients=sorted(detail.get("ClientIDList", [])),
            tags=_tags(detail.get("Tags")))

    kms = stack.client("kms")
    aliases = {}
    for alias in pages(kms, "list_aliases", "Aliases"):
        if not alias["AliasName"].startswith("alias/aws/") and alias.get("TargetKeyId"):
            aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    for key in pages(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") == "AWS" or meta.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
            continue
        add("kms/key", aliases=sorted(aliases.get(key["KeyId"], [])), description=meta.get("Description"),
            state=meta.get("KeyState"),
            tags=_tags(kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags"), "TagKey", "TagValue"))

    secrets = stack.client("secretsmanager")
    for secret in pages(secrets, "list_secrets", "SecretList"):
        versions = secrets.list_secret_version_ids(SecretId=secret["ARN"]).get("Versions", [])
        add("secretsmanager/secret", name=secret["Name"], tags=_tags(secret.get("Tags")),
            current=sum(1 for v in versions if "AWSCURRENT" in v.get("VersionStages", [])))

    s3 = stack.client("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        add("s3/bucket", name=bucket["Name"])
    ecr = stack.client("ecr")
    for repository in pages(ecr, "describe_repositories", "repositories"):
        add("ecr/repository", name=repository["repositoryName"])
    logs = stack.client("logs")
    for group in pages(logs, "describe_log_groups", "logGroups"):
        add("logs/log-group", name=group["logGroupName"], retention=group.get("retentionInDays"))
    return items


# Kinds a role writes; pods, replica sets, events, endpoints and leases change on their own.
KUBE_KINDS = ("namespaces,secrets,configmaps,serviceaccounts,persistentvolumeclaims,persistentvolumes,storageclasses,"
              "deployments,statefulsets,daemonsets,jobs,services,ingresses,roles,rolebindings,poddisruptionbudgets")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")


def kube_state(stack):
    items = []
    listing = json.loads(stack.tool("kubectl", "get", KUBE_KINDS, "--all-namespaces", "-o", "json"))
    for obj in listing["items"]:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        if namespace in SYSTEM_NAMESPACES or meta["name"] in SYSTEM_NAMESPACES:
            continue
        if obj["kind"] == "Secret" and obj.get("type") == "helm.sh/release.v1":
            continue  # one per release revision: the releases are listed below
        if obj["kind"] == "ConfigMap" and meta["name"] == "kube-root-ca.crt":
            continue
        if obj["kind"] == "Namespace" and meta["name"] == "default":
            continue
        entry = {"kind": "k8s/" + obj["kind"], "name": "%s/%s" % (namespace, meta["name"]),
                 "labels": {k: v for k, v in (meta.get("labels") or {}).items() if "pod-template-hash" not in k}}
        if obj["kind"] in ("Secret", "ConfigMap"):
            entry["keys"] = sorted(obj.get("data") or {}) + sorted(obj.get("binaryData") or {})
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            spec = obj["spec"]["template"]["spec"]
            entry["replicas"] = obj["spec"].get("replicas")
            entry["images"] = sorted(c["image"] for c in spec.get("containers", []))
        items.append(entry)
    releases = json.loads(stack.tool("helm", "list", "--all-namespaces", "--all", "-o", "json") or "[]")
    for release in releases:
        history = json.loads(stack.tool("helm", "history", release["name"], "-n", release["namespace"], "-o", "json"))
        items.append({"kind": "helm/release", "name": "%s/%s" % (release["namespace"], release["name"]),
                      "status": release["status"], "chart": release["chart"], "app_version": release["app_version"],
                      "deployed_revisions": sum(1 for h in history if h["status"] == "deployed")})
    return items


def platform_state(stack):
    """Sorted, normalised listing of the account and the cluster: equal for equal end states."""
    return sorted(json.dumps(normalise(item), sort_keys=True) for item in aws_state(stack) + kube_state(stack))


def state_difference(expected, actual):
    from collections import Counter

    want, got = Counter(expected), Counter(actual)
    return {"missing": sorted((want - got).elements()), "extra": sorted((got - want).elements())}


def duplicates(stack, layers=("cluster", "data", "apps")):
    """What would be a duplicate or an orphan after an interrupted deploy: one VPC, NAT gateway
    per zone setting, cluster, node group per name, DB instance, EFS per creation token, no KMS
    key without its alias, no Elastic IP without a NAT gateway, one deployed revision per Helm
    release. Returns a list of problems (empty: none)."""
    problems = []
    aws = [normalise(i) for i in aws_state(stack)]

    def of(kind):
        return [i for i in aws if i["kind"] == kind]

    def count(what, found, expected):
        if len(found) != expected:
            problems.append("%s: %d, expected %d: %s" % (what, len(found), expected, json.dumps(found)[:1500]))

    def tagged(item):
        return item.get("tags", {}).get("mlops.eks_platform/cluster") == CLUSTER

    if "cluster" in layers:
        count("VPCs of the cluster", [v for v in of("ec2/vpc") if tagged(v)], 1)
        count("internet gateways", of("ec2/internet-gateway"), 1)
        nats = of("ec2/nat-gateway")
        count("NAT gateways (eks_cluster_nat_gateways: single)", nats, 1)
        count("Elastic IPs (one per NAT gateway, none orphaned)", of("ec2/elastic-ip"), len(nats))
        count("EKS clusters", of("eks/cluster"), 1)
        names = [n["name"] for n in of("eks/nodegroup")]
        count("node groups named %s" % sorted(set(names)), names, len(set(names)))
        subnets = [(s["cidr"]) for s in of("ec2/subnet")]
        count("subnets (one per CIDR)", subnets, len(set(subnets)))
        providers = of("iam/oidc-provider")
        count("IAM OIDC providers", providers, 1)
    if "data" in layers:
        count("DB instances", of("rds/db-instance"), 1)
        tokens = [f["token"] for f in of("efs/file-system")]
        count("EFS file systems (one per creation token %s)" % sorted(set(tokens)), tokens, 1)
    keys = of("kms/key")
    count("KMS keys without an alias (orphans of an interrupted create)", [k for k in keys if not k["aliases"]], 0)
    for secret in of("secretsmanager/secret"):
        if secret["current"] != 1:
            problems.append("secret %s has %d AWSCURRENT versions" % (secret["name"], secret["current"]))
    if "apps" in layers:
        for release in (i for i in kube_state(stack) if i["kind"] == "helm/release"):
            if release["status"] != "deployed" or release["deployed_revisions"] != 1:
                problems.append("Helm release %s: status %s, %d deployed revisions"
                                % (release["name"], release["status"], release["deployed_revisions"]))
    return problems


# --------------------------------------------------------------------------------------------
# The switch
# --------------------------------------------------------------------------------------------

# One cheap read per protocol: (service, operation, throttling status and code).
PROBES = [
    ("ec2", "describe_vpcs", 503, "RequestLimitExceeded"),
    ("iam", "list_roles", 400, "Throttling"),
    ("rds", "describe_db_instances", 400, "Throttling"),
    ("sts", "get_caller_identity", 400, "Throttling"),
    ("kms", "list_keys", 400, "ThrottlingException"),
    ("secretsmanager", "list_secrets", 400, "ThrottlingException"),
    ("eks", "list_clusters", 429, "ThrottlingException"),
    ("efs", "describe_file_systems", 429, "ThrottlingException"),
    ("s3", "list_buckets", 503, "SlowDown"),
]
ERROR_5XX = {(500, "InternalError"), (503, "Unavailable"), (500, "InternalFailure"), (503, "ServiceUnavailable")}
NO_RETRIES = {"retries": {"total_max_attempts": 1}}


def _outcome(func, *args, **kwargs):
    from botocore.exceptions import ClientError

    try:
        func(*args, **kwargs)
        return "ok"
    except ClientError as exc:
        return "%s %s" % (exc.response["ResponseMetadata"].get("HTTPStatusCode"), exc.response["Error"]["Code"])


@pytest.mark.aws
def test_fault_switch(fault_stack, request):
    """The switch works and each layer is what retries: a client without retries sees each
    protocol's own throttling and 5xx error; the same faults are absorbed by botocore's default
    retries (the server sees the same invocation id again); AWSRetry absorbs the codes it knows
    when botocore does not retry; the choice of faults is deterministic with the seed."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper
    from ansible_collections.mlops.eks_platform.plugins.module_utils.retry import retry_decorator

    stack = fault_stack
    report = stack.faults()
    assert report["enabled"] and report["spec"] == START_SPEC, report  # the environment switch
    stack.reset_aws()  # /moto-api/ is never faulted

    # 1. Each protocol's own errors reach a client that does not retry.
    stack.faults("throttle=1")
    for service, operation, status, code in PROBES:
        client = stack.client(service, **NO_RETRIES)
        assert _outcome(getattr(client, operation)) == "%d %s" % (status, code), service
    stack.faults("error5xx=1,seed=3")
    seen = set()
    for service, operation, _status, _code in PROBES:
        client = stack.client(service, **NO_RETRIES)
        for _round in range(4):
            outcome = _outcome(getattr(client, operation))
            status, code = outcome.split(" ", 1)
            assert (int(status), code) in ERROR_5XX, (service, outcome)
            seen.add(code)
    assert {"InternalFailure", "ServiceUnavailable"} <= seen, seen
    stack.faults("off")
    for service, operation, _status, _code in PROBES:
        assert _outcome(getattr(stack.client(service, **NO_RETRIES), operation)) == "ok", service
    assert stack.faults()["requests"] == 0  # off: nothing counted, nothing injected
    for bad in ("throttle=2", "throttle=0.7,error5xx=0.7", "retries=3", "throttle_protocols=soap"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            stack.faults(bad)
        assert refused.value.code == 400 and "MLOPS_MOTO_FAULTS" in refused.value.read().decode(), bad
    assert not stack.faults()["enabled"]  # a refused spec leaves the switch as it was

    # 2. Deterministic: the same seed gives the same faults, another seed others.
    def sequence(spec):
        stack.faults(spec)
        ec2 = stack.client("ec2", **NO_RETRIES)
        return [_outcome(ec2.describe_vpcs) for _round in range(24)]

    first = sequence("throttle=0.3,error5xx=0.2,seed=7")
    assert first == sequence("throttle=0.3,error5xx=0.2,seed=7")
    assert first != sequence("throttle=0.3,error5xx=0.2,seed=8")
    assert 0 < sum(o != "ok" for o in first) < len(first), first

    # 3. botocore's own retries (standard mode: 3 attempts) absorb every protocol's faults: a
    # call fails only when all its attempts were faulted, and every other fault was followed by
    # botocore's retry of the same invocation.
    stack.faults("throttle=0.2,error5xx=0.1,seed=5")
    failed = 0
    for service, operation, _status, _code in PROBES:
        client = stack.client(service)
        failed += sum(_outcome(getattr(client, operation)) != "ok" for _round in range(4))
    sdk = stack.faults()
    assert sdk["injected"] > 3 * failed and sdk["retried_by_sdk"] == sdk["injected"] - failed, (failed, sdk)
    assert set(sdk["by_code"]) >= {"ThrottlingException", "Throttling", "SlowDown"}, sdk

    # max_per_call below botocore's attempts: every call succeeds, each fault retried by botocore.
    stack.faults("throttle=1,max_per_call=2")
    ec2 = stack.client("ec2")
    for _round in range(3):
        ec2.describe_vpcs()
    capped = stack.faults()
    assert capped["injected"] == 6 and capped["retried_by_sdk"] == 6, capped

    # persist: a fault that lasts all of botocore's attempts reaches the caller anyway.
    stack.faults("throttle=0.4,persist=3,seed=2")
    ec2 = stack.client("ec2")
    outcomes = [_outcome(ec2.describe_vpcs) for _round in range(10)]
    persisted_failures = outcomes.count("503 RequestLimitExceeded")
    persisted = stack.faults()
    assert 0 < persisted_failures < len(outcomes), outcomes
    assert persisted_failures + outcomes.count("ok") == len(outcomes), outcomes
    assert persisted["injected"] == 3 * persisted_failures, (outcomes, persisted)

    # 4. AWSRetry (what the modules use) retries the codes it knows, with botocore's retries off.
    stack.faults("throttle=0.3,error5xx=0.2,throttle_protocols=ec2+query,seed=9")
    retry = AWSRetry.jittered_backoff(retries=20, delay=0.05, max_delay=0.2)
    for service, operation, _status, _code in PROBES:
        client = RetryingBotoClientWrapper(stack.client(service, **NO_RETRIES), retry)
        for _round in range(6):
            getattr(client, operation)(aws_retry=True)
    caller = stack.faults()
    assert caller["injected"] > 0 and caller["retried_by_caller"] == caller["injected"], caller
    assert caller["retried_by_sdk"] == 0 and caller["not_retried"] == 0, caller
    # ... but not the JSON APIs' ThrottlingException nor S3's SlowDown: botocore alone retries
    # those. If amazon.aws adds them, widen AWSRETRY_SPEC (throttle_protocols) to every protocol.
    assert not AWSRetry.found("ThrottlingException") and not AWSRetry.found("SlowDown")
    # 5. The collection's retry policy (module_utils/retry.py) adds ThrottlingException: EKS and
    # ECR throttled with botocore's retries off, every fault retried by the caller.
    stack.faults("throttle=0.4,throttle_protocols=json+rest-json,seed=5")
    collection_retry = retry_decorator(retries=20, delay=0.05, max_delay=0.2)
    for service, operation in (("eks", "list_clusters"), ("ecr", "describe_repositories")):
        client = RetryingBotoClientWrapper(stack.client(service, **NO_RETRIES), collection_retry)
        for _round in range(6):
            getattr(client, operation)(aws_retry=True)
    ours = stack.faults()
    assert set(ours["by_code"]) == {"ThrottlingException"}, ours
    assert ours["injected"] > 0 and ours["retried_by_caller"] == ours["injected"], ours
    stack.faults("off")
    write_figures(request, [
        "faults switch: botocore's retries absorbed %d of %d injected faults in %d requests (codes %s; "
        "%d call(s) failed on all 3 attempts); with them off, AWSRetry absorbed %d of %d in %d requests, "
        "the collection's retry policy %d of %d ThrottlingException (EKS, ECR)"
        % (sdk["retried_by_sdk"], sdk["injected"], sdk["requests"], ", ".join(sorted(sdk["by_code"])), failed,
           caller["retried_by_caller"], caller["injected"], caller["requests"], ours["retried_by_caller"],
           ours["injected"])])


# --------------------------------------------------------------------------------------------
# The cluster layer: faults, one interruption, convergence, no duplicates
# --------------------------------------------------------------------------------------------

# Kill the first run once the control plane task has started (the VPC, the NAT gateway and the
# IAM roles exist, the cluster is being created).
CLUSTER_KILL = KillPoint("cluster layer, creating the EKS control plane",
                         pattern=r"^TASK \[.*eks_cluster : .*EKS control plane", delay=1.5)


@pytest.mark.aws
@pytest.mark.k8s
def test_cluster_layer_converges_under_faults_after_an_interruption(fault_stack, request):
    """playbooks/cluster.yml with botocore's retries off (AWS_MAX_ATTEMPTS=1) and faults on:
    killed (SIGKILL to its process group) while the control plane is being created, run again
    to the end under faults, then once more without faults and with botocore's defaults.

    Every fault of the second run reached a module (botocore did not retry: retried_by_sdk is
    0) and the run converged, so each one was retried by the module's AWSRetry
    (retried_by_caller equals the faults injected). The third run changes nothing, and the
    account holds one of everything (no VPC, NAT gateway, Elastic IP, cluster, node group or
    KMS key left over from the killed run)."""
    stack = fault_stack
    stack.reset_aws()
    playbook = os.path.join(REPO_ROOT, "playbooks", "cluster.yml")
    no_sdk_retries = {"AWS_MAX_ATTEMPTS": "1"}

    stack.faults(AWSRETRY_SPEC % 7)
    killed = run_playbook(stack, playbook, extra_env=no_sdk_retries, kill=CLUSTER_KILL)
    assert killed.killed, "the kill point %r was never reached:\n%s" % (CLUSTER_KILL.name, killed.output[-5000:])
    assert killed.rc != 0

    stack.faults(AWSRETRY_SPEC % 8)  # counts restart: the rerun's faults only
    rerun = run_playbook(stack, playbook, extra_env=no_sdk_retries)
    report = stack.faults()
    stack.faults("off")
    assert_converged(rerun)
    check_awsretry_layer(report, rerun)

    third = run_playbook(stack, playbook)
    assert_converged(third)
    assert third.recap["changed"] == 0, "a run after the recovery changed something:\n" + third.output[-8000:]
    problems = duplicates(stack, layers=("cluster",))
    assert not problems, "\n".join(problems)
    write_figures(request, [
        "faults cluster layer: run 1 killed at %s; the rerun converged in %.0fs %s; a run without faults changed=%d "
        "in %.0fs" % (killed.killed, rerun.seconds, awsretry_figure(report), third.recap["changed"], third.seconds)]
        + ["  fault not retried (a read): %s" % line for line in unretried(report, rerun)])


def check_awsretry_layer(report, run):
    """A run with botocore's retries off converged through the faults: botocore retried none of
    them, every faulted write came back as a new call (AWSRetry), and the only faults nobody
    retried are reads (waiter polls, see the module docstring)."""
    detail = json.dumps(dict(report, log=None), sort_keys=True) + "\nnot retried:\n" + "\n".join(unretried(report, run))
    assert report["injected"] > 0 and report["retried_by_caller"] > 0, detail
    assert report["retried_by_sdk"] == 0, detail
    writes = [e for e in report["log"] if not READ_OPERATION.search(e["operation"])]
    assert all(e["retried_by"] == "caller" for e in writes), detail
    assert report["retried_by_caller"] + report["not_retried"] == report["injected"], detail


def awsretry_figure(report):
    return ("through %d injected faults (%s) in %d AWS requests with botocore's retries off: %d retried by the "
            "modules (AWSRetry), %d reads not retried" % (
                report["injected"], ", ".join("%s %d" % kv for kv in sorted(report["by_code"].items())),
                report["requests"], report["retried_by_caller"], report["not_retried"]))


# --------------------------------------------------------------------------------------------
# A failed Helm upgrade is rolled back (the mlflow_helm role's atomic release)
# --------------------------------------------------------------------------------------------

MLFLOW_VARS = {
    "mlflow_helm_cluster_name": "faults-test",
    "mlflow_helm_region": "eu-west-1",
    "mlflow_helm_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/FAULTS",
    "mlflow_helm_backend_store_secret": {"name": "mlflow-backend-store", "key": "uri"},
    "mlflow_helm_image": {"repository": "registry.sandbox.test/faults/mlflow", "tag": "v1", "digest": ""},
    "mlflow_helm_build_image": False,
    "mlflow_helm_replicas": 2,
    "mlflow_helm_wait_timeout": "3m",
}
# No node of the local cluster (8 CPUs each) can take a pod that asks for 64: the new pods stay
# Pending, as with a typo in a resource request or a node group that cannot scale up.
UNSCHEDULABLE = {"requests": {"cpu": "64", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}


def _mlflow_run(tmp_path, env, extra, kill=None):
    """The mlflow_helm role alone, with MLFLOW_VARS and ``extra``; (CompletedProcess-like, seconds)."""
    playbook = tmp_path / "mlflow.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "roles": [{"role": "mlops.eks_platform.mlflow_helm"}]}]))
    vars_file = tmp_path / ("vars-%s.json" % uuid.uuid4().hex[:6])
    vars_file.write_text(json.dumps(dict(MLFLOW_VARS, **extra)))
    run = run_killable([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-e",
                        "ansible_python_interpreter=" + sys.executable, "-e", "@" + str(vars_file), str(playbook)],
                       env, kill=kill, timeout=900)
    return types.SimpleNamespace(returncode=run.rc, stdout=run.output, recap=run.recap, killed=run.killed), run.seconds


def _release_status(kube_cluster, namespace):
    listed = json.loads(kube_cluster.helm("list", "-n", namespace, "--all", "-o", "json").stdout)
    return {r["name"]: r["status"] for r in listed}.get("mlflow")


@pytest.mark.aws
@pytest.mark.k8s
def test_failed_mlflow_upgrade_rolls_back(tmp_path, aws, kube_cluster, request):
    """The mlflow_helm role installs its release with ``atomic: true``. An upgrade whose new
    pods can never become ready (they ask for more CPU than any node has) fails the role after
    mlflow_helm_wait_timeout; helm rolls the release back to the previous revision, whose
    Deployment (never scaled down: maxUnavailable 0) and Service keep serving."""
    namespace = "mlflow-faults-" + uuid.uuid4().hex[:8]
    env = dict(aws.env, KUBECONFIG=kube_cluster.kubeconfig)
    kube_cluster.kubectl("create", "namespace", namespace)
    try:
        kube_cluster.kubectl("-n", namespace, "create", "secret", "generic", "mlflow-backend-store",
                             "--from-literal=uri=postgresql://mlflow:pw@db.example.internal:5432/mlflow")
        first, _seconds = _mlflow_run(tmp_path, env, {"mlflow_helm_namespace": namespace})
        assert first.returncode == 0, first.stdout[-6000:]
        before = json.loads(kube_cluster.kubectl("-n", namespace, "get", "deployment", "mlflow", "-o", "json").stdout)
        assert before["status"].get("readyReplicas") == 2, before["status"]

        failed, seconds = _mlflow_run(tmp_path, env, {"mlflow_helm_namespace": namespace,
                                                      "mlflow_helm_resources": UNSCHEDULABLE,
                                                      "mlflow_helm_wait_timeout": "25s"})
        assert failed.returncode != 0, "the upgrade did not fail:\n" + failed.stdout[-6000:]
        assert "Install or upgrade the MLflow release" in failed.stdout, failed.stdout[-6000:]
        assert re.search(r"rolled back|rollback", failed.stdout, re.I), failed.stdout[-6000:]

        history = json.loads(kube_cluster.helm("history", "mlflow", "-n", namespace, "-o", "json").stdout)
        statuses = [(h["revision"], h["status"]) for h in history]
        assert statuses == [(1, "superseded"), (2, "failed"), (3, "deployed")], history
        assert "Rollback to 1" in history[-1]["description"], history
        status = json.loads(kube_cluster.helm("status", "mlflow", "-n", namespace, "-o", "json").stdout)
        assert status["info"]["status"] == "deployed" and status["version"] == 3, status["info"]

        after = json.loads(kube_cluster.kubectl("-n", namespace, "get", "deployment", "mlflow", "-o", "json").stdout)
        server = [c for c in after["spec"]["template"]["spec"]["containers"] if c["name"] == "mlflow"]
        assert server and server[0]["resources"]["requests"]["cpu"] != "64", server
        assert after["spec"]["template"]["spec"]["containers"] == before["spec"]["template"]["spec"]["containers"]
        assert after["status"].get("readyReplicas") == 2 and after["metadata"]["uid"] == before["metadata"]["uid"]
        service = json.loads(kube_cluster.kubectl("-n", namespace, "get", "service", "mlflow", "-o", "json").stdout)
        assert service["spec"]["ports"][0]["port"] == 5000
        pods = json.loads(kube_cluster.kubectl("-n", namespace, "get", "pods", "-l",
                                               "app.kubernetes.io/component=tracking-server", "-o", "json").stdout)["items"]
        pending = [p["metadata"]["name"] for p in pods if p["status"].get("phase") != "Running"]
        write_figures(request, [
            "faults helm: the failed MLflow upgrade was rolled back in %.0fs (wait timeout 25s); history %s; "
            "the previous Deployment kept %d ready replicas, %d pods not running"
            % (seconds, ", ".join("%d %s" % s for s in statuses), after["status"].get("readyReplicas", 0),
               len(pending))])
    finally:
        kube_cluster.helm("uninstall", "mlflow", "-n", namespace, "--wait", "--timeout", "120s", check=False)
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


@pytest.mark.aws
@pytest.mark.k8s
def test_helm_killed_mid_operation_is_recovered(tmp_path, aws, kube_cluster, request):
    """A run killed while helm installs or upgrades (a lost CI runner, an AWX pod evicted) leaves
    the release ``pending-install`` or ``pending-upgrade``, and helm refuses any further operation
    on it ("another operation is in progress"). The next run of the role removes the unfinished
    install, or rolls the unfinished upgrade back, and converges; a run after that changes nothing."""
    namespace = "mlflow-pending-" + uuid.uuid4().hex[:8]
    env = dict(aws.env, KUBECONFIG=kube_cluster.kubeconfig)
    base = {"mlflow_helm_namespace": namespace}
    # Pods that can never become ready keep helm waiting, so the kill lands inside the operation.
    stuck = dict(base, mlflow_helm_resources=UNSCHEDULABLE, mlflow_helm_wait_timeout="10m")
    kill = KillPoint("while helm waits for the release", helm=True, delay=4.0)
    figures = []
    kube_cluster.kubectl("create", "namespace", namespace)
    try:
        kube_cluster.kubectl("-n", namespace, "create", "secret", "generic", "mlflow-backend-store",
                             "--from-literal=uri=postgresql://mlflow:pw@db.example.internal:5432/mlflow")
        for operation, status in (("install", "pending-install"), ("upgrade", "pending-upgrade")):
            killed, _seconds = _mlflow_run(tmp_path, env, stuck, kill=kill)
            assert killed.killed, "the %s was not interrupted:\n%s" % (operation, killed.stdout[-4000:])
            assert _release_status(kube_cluster, namespace) == status, killed.stdout[-4000:]

            recovered, seconds = _mlflow_run(tmp_path, env, base)
            assert recovered.returncode == 0, recovered.stdout[-6000:]
            assert _release_status(kube_cluster, namespace) == "deployed"
            deployment = json.loads(kube_cluster.kubectl("-n", namespace, "get", "deployment", "mlflow",
                                                         "-o", "json").stdout)
            assert deployment["status"].get("readyReplicas") == 2, deployment["status"]
            history = json.loads(kube_cluster.helm("history", "mlflow", "-n", namespace, "-o", "json").stdout)
            revisions = ", ".join("%d %s" % (h["revision"], h["status"]) for h in history)
            figures.append("faults helm: %s killed mid-way (%s) recovered by the next run in %.0fs; history %s"
                           % (operation, status, seconds, revisions))

        again, _seconds = _mlflow_run(tmp_path, env, base)
        assert again.returncode == 0 and again.recap and again.recap["changed"] == 0, again.stdout[-6000:]
        write_figures(request, figures)
    finally:
        kube_cluster.helm("uninstall", "mlflow", "-n", namespace, "--wait", "--timeout", "120s", check=False)
        kube_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
