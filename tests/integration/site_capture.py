# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One `ansible-playbook site.yml -i inventories/sandbox -vvv` run and its immediate rerun, shared
by tests/integration/test_secrets_scan.py, test_static_security.py, test_teardown_clean.py,
test_site_overlap.py and test_site_rerun.py through the session fixture ``site_run``
(tests/integration/conftest.py).

The run gets a sandbox of its own (moto server and local control plane in a temporary
directory), so it never meets the state of the session's shared sandbox, and DAGs come from
Git over SSH with a deploy key generated for the run: pasted with CRLF line ends and without
its final newline, the way a web form hands it over, so the repair path of git_deploy_key runs
too. The emulated AWS takes a few seconds to provision clusters, node groups, databases and
file systems (OVERLAP_DELAYS) and logs every request, so the run shows which waits overlap.
Everything the tests need is captured before the sandbox is torn down:

- every secret value the platform generated or handled: the Secrets Manager secrets, the data
  of every Kubernetes Secret the roles wrote, the deploy key, the kubeconfig's credential;
- where each of them was searched (and the hits): the run's stdout, stderr and Ansible log,
  the Helm release records and the ConfigMaps and workload specs in the cluster, and every file
  under the repository, /tmp and the tools' home directories written since the run started;
- the IAM roles, trust policies, inline, customer managed and attached AWS managed policies,
  the OIDC providers and the S3 bucket policies from the emulated account;
- the workloads the roles applied outside Helm, and the values the roles gave each Helm release;
- the emulator's log of the AWS requests of the site.yml run (operation, time, status), and
  separately those of the rerun, with the rerun's recap;
- teardown.yml: refused without confirmation, then run, with state listings around it.

capture() makes the run and returns the capture; the fixture calls it once per pytest session (the
first test that asks pays about three minutes) and keeps a failure too, so the second test file
does not run site.yml again.
"""

import base64
import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse

import boto3
import yaml

# tests/tools (pytest.ini's pythonpath) and this directory (pytest puts a test directory
# without __init__.py on sys.path).
import platform_state
import sandbox as sandbox_tool
from checkout_env import checkout_env

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)

GIT_REPO = "git@github.com:example/mlops-dags.git"
KNOWN_HOSTS = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

# Values shorter than this are not searched: they would match by chance. Every value the roles
# generate is far longer (passwords 32, keys 44 to 128 characters); the tests assert that.
MIN_SECRET_LENGTH = 12

# Fields that are public by design, next to the secrets in the same JSON or Secret.
PUBLIC_JSON_FIELDS = frozenset(("engine", "host", "port", "username", "dbname", "dbInstanceIdentifier"))
PUBLIC_SECRET_KEYS = re.compile(
    r"^(username|knownHosts|PG(HOST|PORT|DATABASE|USER|SSLMODE|CONNECT_TIMEOUT)|RDS_METADATA_APPS"
    r"|[A-Z]+_(DATABASE|USERNAME)"
    # PgBouncer's configuration: host names, pools and settings, no credential (those live in
    # users.txt, which is searched). It comes out the same in every sandbox.
    r"|pgbouncer\.ini)$")

# The emulated AWS takes this long to provision (seconds), so that the run also shows the
# overlap of the long waits (tests/integration/test_site_overlap.py reads its request log).
OVERLAP_NODEGROUP_DELAY = 20
OVERLAP_DELAYS = "eks_cluster=6,eks_nodegroup=%d,rds_instance=4,efs_file_system=2" % OVERLAP_NODEGROUP_DELAY

WORKLOAD_KINDS = "deployments,statefulsets,daemonsets,jobs,cronjobs"
CHUNK = 8 << 20


def _run(argv, env, timeout=300):
    proc = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(argv[:4]), proc.returncode,
                                                 proc.stderr.decode(errors="replace")[-2000:]))
    return proc.stdout


def _base_env():
    return checkout_env(unset=("ANSIBLE_LOG_PATH", "ANSIBLE_KEEP_REMOTE_FILES"))


# --- the deploy key ---------------------------------------------------------------------------

def keygen(work, name):
    path = os.path.join(work, name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path],
                   check=True, capture_output=True, timeout=60)
    with open(path) as handle:
        key = handle.read()
    os.unlink(path)
    os.unlink(path + ".pub")
    return key


def _deploy_key(work):
    """A fresh deploy key, its pasted (damaged) form, and the body lines every key of the type shares."""
    key = keygen(work, "deploy_key")
    other = keygen(work, "other_key")
    shared = set(key.splitlines()) & set(other.splitlines())
    return {"key": key, "pasted": key.rstrip("\n").replace("\n", "\r\n"), "shared_lines": shared}


# --- the secret values ---------------------------------------------------------------------

def _b64_cores(data):
    """Base64 of DATA as it appears inside any longer base64 text, whatever its alignment."""
    cores = []
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + data)
        start = 4 if shift else 0
        end = len(enc) - (4 if (shift + len(data)) % 3 else 0)
        if end - start >= MIN_SECRET_LENGTH:
            cores.append(enc[start:end])
    return cores


def _forms(value, shared_lines=frozenset()):
    """The byte strings that would betray VALUE: as is, JSON- and URL-escaped, base64 at every
    alignment, and each body line of a PEM or OpenSSH key (lines every key of its type shares
    are left out: they carry no secret)."""
    raw = value.encode()
    forms = {"raw": raw, "json-escaped": json.dumps(value)[1:-1].encode(),
             "url-encoded": urllib.parse.quote(value, safe="").encode()}
    for index, core in enumerate(_b64_cores(raw)):
        forms["base64/%d" % index] = core
    if "PRIVATE KEY-----" in value:
        body = [line.strip() for line in value.splitlines() if line.strip() and not line.startswith("-----")]
        for index, line in enumerate(body):
            if line not in shared_lines and len(line) >= MIN_SECRET_LENGTH:
                forms["key line %d" % index] = line.encode()
    unique = {}
    for name, form in forms.items():
        if form not in unique.values():
            unique[name] = form
    return unique


class Secrets(object):
    def __init__(self):
        self.values = {}      # value -> origin (first seen)
        self.public = []      # (origin, reason) of fields left out by name
        self.short = []       # origins of values too short to search

    def add(self, origin, value):
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if not isinstance(value, str) or value == "":
            return
        if len(value) < MIN_SECRET_LENGTH:
            self.short.append(origin)
            return
        self.values.setdefault(value, origin)


def _collect_secrets(boto, kubectl, deploy, kubeconfig):
    found = Secrets()
    # First, so that they keep these names when the Secret git-sync reads holds the same key.
    found.add("deploy key (as generated)", deploy["key"])
    found.add("deploy key (as pasted: CRLF, no final newline)", deploy["pasted"])
    manager = boto("secretsmanager")
    names = []
    for page in manager.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            names.append(entry["Name"])
            text = manager.get_secret_value(SecretId=entry["ARN"]).get("SecretString", "")
            found.add("Secrets Manager %s" % entry["Name"], text)
            try:
                fields = json.loads(text)
            except ValueError:
                continue
            if isinstance(fields, dict):
                for key, value in fields.items():
                    origin = "Secrets Manager %s[%s]" % (entry["Name"], key)
                    if key in PUBLIC_JSON_FIELDS:
                        found.public.append(origin)
                    else:
                        found.add(origin, str(value))
    k8s = []
    items = json.loads(kubectl("get", "secrets", "--all-namespaces", "-o", "json"))["items"]
    for item in items:
        name = "%s/%s" % (item["metadata"]["namespace"], item["metadata"]["name"])
        if item.get("type") == "helm.sh/release.v1":
            continue  # Helm's own record of a release: searched as a place, see _helm_records
        k8s.append(name)
        for key, data in (item.get("data") or {}).items():
            origin = "Kubernetes Secret %s[%s]" % (name, key)
            if PUBLIC_SECRET_KEYS.match(key):
                found.public.append(origin)
            else:
                found.add(origin, base64.b64decode(data))
    with open(kubeconfig) as handle:
        config = yaml.safe_load(handle)
    for user in config.get("users", []):
        creds = user.get("user") or {}
        if creds.get("token"):
            found.add("kubeconfig token of %s" % user.get("name"), creds["token"])
        if creds.get("client-key-data"):
            found.add("kubeconfig client key of %s" % user.get("name"), base64.b64decode(creds["client-key-data"]))
    return found, sorted(names), sorted(k8s)


# --- where they are searched ------------------------------------------------------------------

def _helm_records(kubectl):
    """Helm's release records, decoded (base64, base64, gzip): the values and rendered manifests."""
    out = []
    items = json.loads(kubectl("get", "secrets", "--all-namespaces", "-l", "owner=helm", "-o", "json"))["items"]
    for item in items:
        payload = base64.b64decode(base64.b64decode(item["data"]["release"]))
        if payload[:2] == b"\x1f\x8b":
            payload = gzip.decompress(payload)
        out.append(("Helm release record %s/%s" % (item["metadata"]["namespace"], item["metadata"]["name"]), payload))
    return out


def _scan_bytes(data, needles):
    hits = set()
    for index, needle in enumerate(needles):
        if needle in data:
            hits.add(index)
    return hits


def _scan_file(path, needles, longest):
    hits = set()
    size = 0
    with open(path, "rb") as handle:
        tail = b""
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            hits |= _scan_bytes(tail + chunk, needles)
            tail = chunk[-longest:]
    return hits, size


def _walk(root, since, skip):
    """Regular files under ROOT modified at or after SINCE (symbolic links are not followed)."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if os.path.join(directory, d) not in skip and d != ".git"]
        for name in files:
            path = os.path.join(directory, name)
            if path in skip:
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_mtime >= since:
                yield path


def scan_places(secrets, shared_lines, places, roots, since, skip):
    needles, owners = [], []
    for value, origin in sorted(secrets.values.items(), key=lambda item: item[1]):
        for form, needle in _forms(value, shared_lines).items():
            needles.append(needle)
            owners.append((origin, form))
    longest = max(len(needle) for needle in needles)
    hits = []
    scanned = {"places": 0, "files": 0, "bytes": 0, "unreadable": 0}

    def record(where, found):
        for index in sorted(found):
            hits.append({"where": where, "secret": owners[index][0], "form": owners[index][1]})

    for where, data in places:
        scanned["places"] += 1
        scanned["bytes"] += len(data)
        record(where, _scan_bytes(data, needles))
    for root in roots:
        if not os.path.isdir(root):
            continue
        for path in _walk(root, since, skip):
            try:
                found, size = _scan_file(path, needles, longest)
            except OSError:
                scanned["unreadable"] += 1  # gone (another process's temporary file) or a special file
                continue
            scanned["files"] += 1
            scanned["bytes"] += size
            record(path, found)
    return {"needles": len(needles), "hits": hits, "scanned": scanned}


# --- IAM and workloads ------------------------------------------------------------------------

def _document(doc):
    if isinstance(doc, str):
        doc = json.loads(urllib.parse.unquote(doc))
    return doc


def _collect_iam(boto):
    iam = boto("iam")
    details = {"RoleDetailList": [], "UserDetailList": [], "GroupDetailList": [], "Policies": []}
    kwargs = {}
    while True:
        page = iam.get_account_authorization_details(**kwargs)
        for key in details:
            details[key].extend(page.get(key, []))
        if not page.get("IsTruncated"):
            break
        kwargs = {"Marker": page["Marker"]}
    by_arn = {policy["Arn"]: policy for policy in details["Policies"]}

    def default_document(policy):
        return _document([v for v in policy["PolicyVersionList"] if v["IsDefaultVersion"]][0]["Document"])

    roles = []
    attached = set()
    for role in details["RoleDetailList"]:
        roles.append({
            "name": role["RoleName"], "arn": role["Arn"],
            "trust": _document(role["AssumeRolePolicyDocument"]),
            "inline": {p["PolicyName"]: _document(p["PolicyDocument"]) for p in role.get("RolePolicyList", [])},
            "attached": [p["PolicyArn"] for p in role.get("AttachedManagedPolicies", [])],
        })
        attached.update(roles[-1]["attached"])
    principals = []
    for kind, key, inline_key in (("user", "UserDetailList", "UserPolicyList"), ("group", "GroupDetailList", "GroupPolicyList")):
        for entry in details[key]:
            principals.append({"kind": kind, "name": entry.get("UserName") or entry.get("GroupName"),
                               "inline": {p["PolicyName"]: _document(p["PolicyDocument"]) for p in entry.get(inline_key, [])},
                               "attached": [p["PolicyArn"] for p in entry.get("AttachedManagedPolicies", [])]})
            attached.update(principals[-1]["attached"])
    customer = {arn: default_document(policy) for arn, policy in by_arn.items() if ":iam::aws:policy/" not in arn}
    aws_managed = {arn: default_document(by_arn[arn]) for arn in attached if arn in by_arn and arn not in customer}
    missing = sorted(arn for arn in attached if arn not in by_arn)
    providers = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    s3 = boto("s3")
    buckets = {}
    for bucket in s3.list_buckets().get("Buckets", []):
        try:
            buckets[bucket["Name"]] = json.loads(s3.get_bucket_policy(Bucket=bucket["Name"])["Policy"])
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
            buckets[bucket["Name"]] = None
    return {"roles": roles, "principals": principals, "customer_policies": customer, "aws_managed": aws_managed,
            "missing_managed": missing, "oidc_providers": providers, "bucket_policies": buckets}


def _helm_managed(obj):
    meta = obj.get("metadata", {})
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return (labels.get("app.kubernetes.io/managed-by") == "Helm" or "meta.helm.sh/release-name" in annotations
            or "helm.sh/hook" in annotations)


def _clean(obj):
    """A live object as it was applied: no status, no server bookkeeping, no controller labels."""
    obj = json.loads(json.dumps(obj))
    obj.pop("status", None)
    meta = obj.get("metadata", {})
    for key in ("managedFields", "uid", "resourceVersion", "creationTimestamp", "generation", "selfLink"):
        meta.pop(key, None)
    (meta.get("annotations") or {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    template = (obj.get("spec") or {}).get("template") or {}
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"):
        ((template.get("metadata") or {}).get("labels") or {}).pop(key, None)
        (((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}).pop(key, None)
    return obj


def _collect_kube(kubectl, helm):
    workloads = json.loads(kubectl("get", WORKLOAD_KINDS, "--all-namespaces", "-o", "json"))["items"]
    applied = [_clean(obj) for obj in workloads if not _helm_managed(obj)]
    releases = {}
    for release in json.loads(helm("list", "--all-namespaces", "-o", "json")):
        values = json.loads(helm("get", "values", release["name"], "-n", release["namespace"], "-o", "json"))
        releases[release["name"]] = {"namespace": release["namespace"], "chart": release["chart"], "values": values}
    helm_workloads = sorted("%s %s/%s" % (o["kind"], o["metadata"]["namespace"], o["metadata"]["name"])
                            for o in workloads if _helm_managed(o))
    specs = kubectl("get", "configmaps," + WORKLOAD_KINDS + ",pods", "--all-namespaces", "-o", "json")
    return {"applied_workloads": applied, "helm_workloads": helm_workloads, "releases": releases}, specs


# --- the run ------------------------------------------------------------------------------------

def _teardown(env, state, fresh):
    """After the scans, the same deployment is torn down (tests/integration/test_teardown_clean.py):
    teardown.yml without confirmation, then with it, with a listing of the account and the
    cluster after each step. Sharing the deployment saves a whole site.yml run."""
    def teardown(*extra):
        argv = [os.path.join(VENV_BIN, "ansible-playbook"), os.path.join("playbooks", "teardown.yml"),
                "-i", "inventories/sandbox"]
        for item in extra:
            argv += ["-e", item]
        started = time.time()
        proc = subprocess.run(argv, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=2400, check=False)
        return proc.returncode, proc.stdout[-6000:], time.time() - started

    deployed = state()
    refused_rc, refused_out, _seconds = teardown()
    refused = state()
    rc, out, seconds = teardown("teardown_confirm=sandbox")
    return {"fresh": fresh, "deployed": deployed, "refused_rc": refused_rc, "refused_out": refused_out,
            "refused": refused, "rc": rc, "out": out, "seconds": seconds, "after": state()}


def capture():
    """Run site.yml, its rerun and teardown.yml on a sandbox of their own; return what the tests read."""
    started = time.time()
    work = tempfile.mkdtemp(prefix="mlops-security-")
    os.makedirs(os.path.join(work, "sandbox"))
    box = sandbox_tool.Sandbox(os.path.join(work, "sandbox"))
    # Inside the sandbox directory, which the secrets scan leaves out (it holds no secret: the
    # log names operations, not parameters).
    request_log = os.path.join(work, "sandbox", "requests.jsonl")
    try:
        box.moto.up(extra_env={"MLOPS_MOTO_DELAYS": OVERLAP_DELAYS, "MLOPS_MOTO_REQUEST_LOG": request_log})
        box.cluster.up()
        box.charts.up()
        env = _base_env()
        env.update(box.env())
        log_path = os.path.join(work, "ansible.log")
        env["ANSIBLE_LOG_PATH"] = log_path
        deploy = _deploy_key(work)
        extra_vars = os.path.join(work, "deploy-key-vars.json")
        fd = os.open(extra_vars, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"airflow_helm_dags_mode": "gitsync", "airflow_helm_git_repo": GIT_REPO,
                       "airflow_helm_git_known_hosts": KNOWN_HOSTS, "airflow_helm_git_ssh_key": deploy["pasted"]}, handle)

        def boto(service):
            return boto3.client(service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                                aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])

        def state():
            return (platform_state.aws_resources(boto)
                    + platform_state.kube_objects(os.path.join(VENV_BIN, "kubectl"), box.cluster.kubeconfig_path,
                                                  os.path.join(VENV_BIN, "helm"), env=env))

        fresh = state()
        # File times have a granularity; a second of margin keeps an early write in the window.
        run_start = time.time() - 1
        playbook_started = time.time()
        argv = [os.path.join(VENV_BIN, "ansible-playbook"), "site.yml", "-i", "inventories/sandbox", "-vvv",
                "-e", "@" + extra_vars]
        proc = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, timeout=2400, check=False)
        playbook_seconds = time.time() - playbook_started

        def read_requests():
            with open(request_log) as handle:
                return [json.loads(line) for line in handle if line.strip()]

        requests = read_requests()
        if proc.returncode != 0:
            raise RuntimeError("site.yml -vvv exited %d:\n%s" % (proc.returncode, proc.stdout.decode(errors="replace")[-6000:]))
        recap = re.findall(rb"^localhost\s+:.*$", proc.stdout, re.M)
        # The immediate rerun, with the same inputs: what a second `make demo` run does.
        rerun_started = time.time()
        rerun = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, timeout=1200, check=False)
        rerun_seconds = time.time() - rerun_started
        # The test's own input: it held the key before the runs started, so it goes before the scan
        # (on a failure, with the whole work directory).
        os.unlink(extra_vars)
        rerun_requests = read_requests()[len(requests):]
        rerun_recap = re.findall(rb"^localhost\s+:.*$", rerun.stdout, re.M)
        # -vvv shows each task's connection and module invocation; the scan means little without.
        verbose = b"ESTABLISH LOCAL CONNECTION" in proc.stdout and b"invocation" in proc.stdout

        def kubectl(*args):
            return _run([os.path.join(VENV_BIN, "kubectl")] + list(args), env)

        def helm(*args):
            return _run([os.path.join(VENV_BIN, "helm")] + list(args), env)

        secrets, sm_names, k8s_names = _collect_secrets(boto, kubectl, deploy, box.cluster.kubeconfig_path)
        kube, specs = _collect_kube(kubectl, helm)
        iam = _collect_iam(boto)
        with open(log_path, "rb") as handle:
            log_bytes = handle.read()
        places = [("ansible-playbook stdout", proc.stdout), ("ansible-playbook stderr", proc.stderr),
                  ("rerun stdout", rerun.stdout), ("rerun stderr", rerun.stderr),
                  ("Ansible log (ANSIBLE_LOG_PATH)", log_bytes),
                  ("ConfigMaps, workloads and pods in every namespace", specs)] + _helm_records(kubectl)
        home = os.path.expanduser("~")
        roots = [REPO_ROOT, tempfile.gettempdir()] + [os.path.join(home, d) for d in (".ansible", ".kube", ".cache/helm", ".config/helm")]
        # Not searched: the sandbox itself (it plays AWS and the cluster, so it holds the secrets
        # by design) and the log, searched above as a place of its own.
        skip = {os.path.join(work, "sandbox"), log_path}
        scan_started = time.time()
        scan = scan_places(secrets, deploy["shared_lines"], places, roots, run_start, skip)
        scan["seconds"] = time.time() - scan_started
        scan["roots"] = roots
        teardown = _teardown(env, state, fresh)
        return {
            "teardown": teardown,
            "playbook_seconds": playbook_seconds,
            "recap": recap[-1].decode() if recap else "",
            "requests": requests,
            "rerun": {"returncode": rerun.returncode, "seconds": rerun_seconds, "requests": rerun_requests,
                      "recap": rerun_recap[-1].decode() if rerun_recap else "",
                      "output_tail": rerun.stdout.decode(errors="replace")[-4000:]},
            "stdout_lines": proc.stdout.count(b"\n"),
            "verbose": verbose,
            "secrets": {"count": len(secrets.values), "origins": sorted(secrets.values.values()),
                        "lengths": {origin: len(value) for value, origin in secrets.values.items()},
                        "public": secrets.public, "short": secrets.short,
                        "secrets_manager": sm_names, "kubernetes_secrets": k8s_names},
            "scan": scan,
            "iam": iam,
            "kube": kube,
            "total_seconds": time.time() - started,
        }
    finally:
        try:
            box.down()
        finally:
            shutil.rmtree(work, ignore_errors=True)
