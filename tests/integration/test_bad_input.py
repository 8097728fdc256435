# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Malformed inventory values are refused before any AWS or Kubernetes call, naming the variable.

The table is tests/integration/bad_input_cases.yml: every role of the collection and the
git_deploy_key module, with the role's valid baseline plus one bad value per case. All cases run
in ONE ansible-playbook process against the emulated AWS account and the local cluster (the
endpoints are real, so a check that let bad input through would create something). Each case is
an inventory host of its own (connection local) whose host variables are the case's variables,
so no variable, fact or failure of one case can reach another; the host runs the role
(``include_role``, not public) or the module inside block/rescue, and the rescue records the
failed task, its message and any ``<role>_info`` fact that exists; one JSON file collects them.

What proves "before any call":
* the failed task of every case is a validation task: the role's argument spec
  (``validate_argument_spec``) or a task of its ``tasks/validate.yml``, by name; for the module,
  a refusal with a ``reason`` code or Ansible's own option checks;
* a listing of the emulated account (EC2, EKS, RDS, EFS, IAM, KMS, Secrets Manager, S3, ECR,
  CloudWatch Logs) and of the cluster (every object kind a role writes, Helm releases) is the
  same before and after the run.
Each baseline is proven valid first (validate.yml and the argument spec pass with it), so each
case fails on its own value and not on something else. A static test checks, beyond the table,
that every variable an assert of a validate.yml looks at is named in its message.

Two subnet ids in one zone cannot be told apart from two zones without asking AWS: that case has
a test of its own, refused after the read-only DescribeSubnets and before anything is created.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import types

import pytest
import yaml

import platform_state
from figures import write_figures

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
import sandbox as sandbox_tool  # noqa: E402  pylint: disable=wrong-import-position
CASES_FILE = os.path.join(HERE, "bad_input_cases.yml")
ROLES = ["eks_cluster", "gpu_nodes", "rds_metadata", "efs_dags", "mlflow_helm", "airflow_helm"]
MODULE = "git_deploy_key"
KEY_PLACEHOLDER = "@ed25519_key@"
REPO_PLACEHOLDER = "@repo@"
# The official Airflow chart from the offline mirror, unpacked: a local chart directory.
AIRFLOW_CHART_PLACEHOLDER = "@airflow_chart@"
AIRFLOW_CHART = os.path.join(os.path.dirname(REPO_ROOT), "shared", "charts", "airflow-1.19.0.tgz")
_UNPACKED = {}
ARGSPEC_ACTION = "ansible.builtin.validate_argument_spec"
# Cases run side by side, one inventory host each.
FORKS = 4
# Ansible's own option checks of a module (before its code runs).
MODULE_OPTION_ERRORS = ("mutually exclusive", "missing required arguments", "must be one of", "is of type",
                        "one of the following is required", "Unsupported parameters")

with open(CASES_FILE, encoding="utf-8") as _handle:
    TABLE = yaml.safe_load(_handle)
CASES = TABLE["cases"]

pytestmark = [pytest.mark.aws, pytest.mark.k8s]


def _airflow_chart_dir():
    if "dir" not in _UNPACKED:
        import tarfile
        import tempfile
        target = tempfile.mkdtemp(prefix="bad-input-airflow-chart-")
        with tarfile.open(AIRFLOW_CHART) as archive:
            archive.extractall(target, filter="data")
        _UNPACKED["dir"] = os.path.join(target, "airflow")
    return _UNPACKED["dir"]


def _substitute(value, key_text):
    if isinstance(value, str):
        if value == KEY_PLACEHOLDER:
            return key_text
        if AIRFLOW_CHART_PLACEHOLDER in value:
            value = value.replace(AIRFLOW_CHART_PLACEHOLDER, _airflow_chart_dir())
        return value.replace(REPO_PLACEHOLDER, REPO_ROOT)
    if isinstance(value, dict):
        return {k: _substitute(v, key_text) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, key_text) for v in value]
    return value


def _case_vars(case, key_text):
    base = TABLE["baseline"][case["role"]]
    extra = case.get("args") if case["role"] == MODULE else case.get("vars")
    return _substitute(dict(base, **(extra or {})), key_text)


def _validate_tasks(role):
    """The tasks of roles/<role>/tasks/validate.yml, blocks and rescues included."""
    def walk(tasks):
        for task in tasks or []:
            yield task
            for section in ("block", "rescue", "always"):
                yield from walk(task.get(section))

    with open(os.path.join(REPO_ROOT, "roles", role, "tasks", "validate.yml"), encoding="utf-8") as handle:
        return list(walk(yaml.safe_load(handle)))


def _validate_task_names(role):
    return {task["name"] for task in _validate_tasks(role) if task.get("name")}


FAILED_OUTCOME = """{{ {'failed': true, 'task': ansible_failed_task.name | default(''),
  'action': ansible_failed_task.action | default(''), 'msg': ansible_failed_result.msg | default('') | string,
  'argument_errors': ansible_failed_result.argument_errors | default([]),
  'assertion': ansible_failed_result.assertion | default('') | string,
  'reason': ansible_failed_result.reason | default(''),
  'role_facts': query('ansible.builtin.varnames', '^(' ~ role_info_facts | join('|') ~ ')$')} }}"""
PASSED_OUTCOME = """{{ {'failed': false, 'role_facts': query('ansible.builtin.varnames', '^(' ~ role_info_facts | join('|') ~ ')$')} }}"""
INFO_FACTS = ["%s_info" % role for role in ROLES]
MODULE_OPTIONS = ["key", "secret_id", "json_field", "known_hosts", "namespace", "name", "state"]


def _argument_spec(role):
    """The role's main argument spec without defaults (the role's defaults/main.yml gives the
    values; templated defaults in the spec would be taken literally outside the role)."""
    with open(os.path.join(REPO_ROOT, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]

    def strip(spec):
        spec = {k: v for k, v in spec.items() if k != "default"}
        if isinstance(spec.get("options"), dict):
            spec["options"] = {k: strip(v) for k, v in spec["options"].items()}
        return spec

    return {name: strip(spec) for name, spec in options.items()}


def _inventory(key_text):
    """One inventory host per case (and per baseline control): a case's variables are host
    variables of its own host, so no fact, variable or failure of one case can reach another.
    Every host is the controller itself (connection local)."""
    groups = {"controls": {}, "role_cases": {}, "module_cases": {}}
    controls = [(role, TABLE["baseline"][role]) for role in ROLES]
    controls.append(("airflow_helm", dict(TABLE["baseline"]["airflow_helm"], **TABLE["airflow_git"])))
    for index, (role, variables) in enumerate(controls):
        groups["controls"]["baseline-%d-%s" % (index, role)] = dict(
            _substitute(variables, key_text), case_role=role, case_argument_spec=_argument_spec(role))
    for case in CASES:
        if case["role"] == MODULE:
            groups["module_cases"][case["id"]] = {"case_role": MODULE, "case_args": _case_vars(case, key_text)}
        else:
            groups["role_cases"][case["id"]] = dict(_case_vars(case, key_text), case_role=case["role"])
    for hosts in groups.values():
        for variables in hosts.values():
            variables.update(ansible_connection="local", ansible_python_interpreter=sys.executable)
    return {"all": {"children": {name: {"hosts": hosts} for name, hosts in groups.items()}}}


def _play(name, hosts, steps):
    """Each host runs its own case in a block whose rescue records the failed task and its message."""
    block = steps + [{"name": "Record that the case passed",
                      "ansible.builtin.set_fact": {"bad_input_outcome": PASSED_OUTCOME}}]
    rescue = [{"name": "Record the failed task", "ansible.builtin.set_fact": {"bad_input_outcome": FAILED_OUTCOME}}]
    return {"name": name, "hosts": hosts, "gather_facts": False, "vars": {"role_info_facts": INFO_FACTS},
            "tasks": [{"name": "Run the case", "block": block, "rescue": rescue}]}


def _playbook(results_path):
    """The baselines (validation only), the role cases (the whole role, not public) and the module
    cases, one play each, then the results of every host in one JSON file."""
    module_args = {option: "{{ case_args.%s | default(omit) }}" % option for option in MODULE_OPTIONS}
    return [
        _play("Baselines pass validation", "controls", [
            {"name": "Check the baseline against the role's argument spec",
             "ansible.builtin.validate_argument_spec": {"argument_spec": "{{ case_argument_spec }}"}},
            {"name": "Run validate.yml of the role", "ansible.builtin.include_role": {
                "name": "mlops.eks_platform.{{ case_role }}", "tasks_from": "validate", "public": False}}]),
        # Plays of their own, with a static tasks_from: one include_role whose tasks_from differed per
        # host ran without the argument spec check (ansible-core 2.19).
        _play("Bad values for the roles", "role_cases", [
            {"name": "Run the role", "ansible.builtin.include_role": {
                "name": "mlops.eks_platform.{{ case_role }}", "public": False}}]),
        _play("Bad values for the git_deploy_key module", "module_cases", [
            {"name": "Run the module", "mlops.eks_platform.git_deploy_key": module_args}]),
        {"name": "Results", "hosts": "all", "gather_facts": False, "tasks": [
            {"name": "Write the results", "run_once": True, "ansible.builtin.copy": {
                "content": "{{ dict(groups['all'] | zip(groups['all'] | map('extract', hostvars, "
                           "'bad_input_outcome'))) | to_nice_json }}",
                "dest": results_path, "mode": "0600"}}]},
    ]


def _state(client, kube):
    venv_bin = os.path.dirname(sys.executable)
    return (platform_state.aws_resources(client)
            + platform_state.kube_objects(os.path.join(venv_bin, "kubectl"), kube.kubeconfig,
                                          os.path.join(venv_bin, "helm"), env=kube.env))


@pytest.fixture(scope="module")
def bad_input(ansible_env, run_cmd, tmp_path_factory, request):
    """The cases, on a stack of their own: what earlier tests left in the session's shared
    cluster may still be settling (namespaces terminating), which would change the listings."""
    box = sandbox_tool.Sandbox(str(tmp_path_factory.mktemp("bad-input-sbx")))
    try:
        box.moto.up()
        box.cluster.up()
        box.charts.up()
        env = dict(ansible_env)
        env.update(box.env())
        yield _run_cases(env, box.cluster.kubeconfig_path, run_cmd, tmp_path_factory, request)
    finally:
        box.down()


def _run_cases(env, kubeconfig, run_cmd, tmp_path_factory, request):
    import boto3

    work = tmp_path_factory.mktemp("bad-input")
    key_path = work / "deploy_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bad-input", "-f", str(key_path)],
                   check=True, timeout=60)
    key_text = key_path.read_text()
    results_path = work / "results.json"
    inventory = work / "cases.yml"
    inventory.write_text(yaml.safe_dump(_inventory(key_text), sort_keys=False, width=1000))
    playbook = work / "bad-input.yml"
    playbook.write_text(yaml.safe_dump(_playbook(str(results_path)), sort_keys=False, width=1000))

    aws_env = env
    kube = types.SimpleNamespace(kubeconfig=kubeconfig, env=env)

    def client(name):
        return boto3.client(name, endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name=aws_env["AWS_REGION"],
                            aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"])

    before = _state(client, kube)
    started = time.monotonic()
    proc = run_cmd([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
                    "--forks", str(FORKS), str(playbook)], env, check=False, timeout=1800)
    seconds = time.monotonic() - started
    after = _state(client, kube)
    assert proc.returncode == 0 and results_path.exists(), proc.stdout[-6000:]
    results = json.loads(results_path.read_text())
    roles = sorted({case["role"] for case in CASES})
    write_figures(request, [
        "bad input: %d cases over %d roles and the %s module (%s) refused in %.1f s (one ansible-playbook run); "
        "%d emulated AWS resources and %d cluster objects listed before and after"
        % (len(CASES), len([r for r in roles if r != MODULE]), MODULE, ", ".join(r for r in roles if r != MODULE),
           seconds, len([r for r in before if r[0] not in ("k8s", "helm")]),
           len([r for r in before if r[0] in ("k8s", "helm")])),
    ])
    return types.SimpleNamespace(results=results, before=before, after=after, stdout=proc.stdout,
                                 results_text=results_path.read_text(), key_text=key_text, seconds=seconds)


def test_the_table_covers_every_role_and_the_module():
    roles = {case["role"] for case in CASES}
    assert roles == set(ROLES) | {MODULE}
    assert len(CASES) >= 40
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"


@pytest.mark.parametrize("control", range(len(ROLES) + 1))
def test_each_baseline_passes_validation(bad_input, control):
    found = {k: v for k, v in bad_input.results.items() if k.startswith("baseline-%d-" % control)}
    assert len(found) == 1, bad_input.results.keys()
    (control_id, outcome), = found.items()
    assert not outcome["failed"], "%s: the baseline itself is refused: %s" % (control_id, outcome)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_value_is_refused_by_validation_naming_the_variable(bad_input, case):
    outcome = bad_input.results.get(case["id"])
    assert outcome is not None, "case did not run"
    assert outcome["failed"], "%s: the bad value passed validation (the role went on to call the APIs)" % case["id"]
    message = " ".join((outcome["msg"] + " " + " ".join(outcome["argument_errors"])).split())
    if case["role"] == MODULE:
        assert outcome["action"] == "mlops.eks_platform.git_deploy_key", outcome
        assert outcome["reason"] or any(text in message for text in MODULE_OPTION_ERRORS), (
            "not refused by the module's input checks: %s" % outcome)
    else:
        validation_tasks = _validate_task_names(case["role"])
        assert outcome["action"] == ARGSPEC_ACTION or outcome["task"] in validation_tasks, (
            "%s failed in %r (%s), not in a validation task of roles/%s" % (
                case["id"], outcome["task"], outcome["action"], case["role"]))
    assert not outcome["role_facts"], "role facts appeared: %s" % outcome["role_facts"]
    assert case["names"] in message, "the message does not name %s: %s" % (case["names"], message)
    if case.get("text"):
        assert case["text"] in message, "expected %r in: %s" % (case["text"], message)


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_an_assert_checks_is_named_in_its_message(role):
    """Beyond the table: each public variable in an assert of validate.yml (its condition and the
    variables it computes from, string literals aside) appears in that assert's fail_msg."""
    unnamed = []
    for task in _validate_tasks(role):
        check = task.get("ansible.builtin.assert")
        if not check or "fail_msg" not in check:
            continue
        that = check["that"] if isinstance(check["that"], list) else [check["that"]]
        code = " ".join(that) + " " + " ".join(str(v) for v in (task.get("vars") or {}).values())
        code = re.sub(r"'[^']*'", "''", code)
        used = set(re.findall(r"(?<![\w.])(%s_[a-z0-9_]+)" % role, code)) - {"%s_info" % role}
        missing = sorted(name for name in used if name not in check["fail_msg"])
        if missing:
            unnamed.append("%s: %s" % (task["name"], ", ".join(missing)))
    assert not unnamed, "fail_msg does not name:\n" + "\n".join(unnamed)


def test_the_account_and_the_cluster_are_unchanged(bad_input):
    diff = platform_state.difference(bad_input.before, bad_input.after)
    assert diff == {"added": [], "removed": []}, json.dumps(diff, indent=1)


def test_the_deploy_key_never_appears_in_the_output(bad_input):
    body = [line for line in bad_input.key_text.splitlines() if line and not line.startswith("-----")]
    for line in body:
        assert line not in bad_input.stdout
        assert line not in bad_input.results_text


SUBNETS_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: mlops.eks_platform.eks_cluster
"""


def test_subnets_in_one_zone_are_refused_after_a_read_only_lookup(aws, run_cmd, tmp_path, request):
    """Distinct subnet ids in one zone: their zone is only known to AWS, so the role looks them up
    (DescribeSubnets) and refuses them before it creates anything."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.%d.0/24" % index, AvailabilityZone="eu-west-1a")
               ["Subnet"]["SubnetId"] for index in (1, 2)]
    before = platform_state.aws_resources(aws.client)
    playbook = tmp_path / "subnets.yml"
    playbook.write_text(SUBNETS_PLAYBOOK)
    variables = {"eks_cluster_name": "bad-input", "eks_cluster_write_kubeconfig": False,
                 "eks_cluster_subnet_ids": {"private": subnets}}
    proc = run_cmd([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                    "-c", "local", "-e", json.dumps(variables), str(playbook)], aws.env, check=False)
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert "eks_cluster_subnet_ids" in out and "at least two availability zones" in out, out[-3000:]
    assert platform_state.difference(before, platform_state.aws_resources(aws.client)) == {"added": [], "removed": []}
    write_figures(request, ["bad input: 2 subnets of one zone (eks_cluster_subnet_ids) refused after a "
                            "read-only lookup, %d AWS resources unchanged" % len(before)])
