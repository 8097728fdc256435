"""The airflow_helm renderings the unit tests share: every combination of DAG mode, executor,
remote logging and ingress (24), eight of them carrying a variant that changes the shape of the
values, rendered by the role's own tasks (``tasks_from: validate`` then ``tasks_from: values``)
in one ansible-playbook run. ``conftest.py`` runs it once per session (``airflow_rendered``)."""

import itertools
import json
import os
import sys

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE_DIR = os.path.join(os.path.dirname(REPO_ROOT), "shared", "reference", "airflow-chart-1.19.0")
CHART_MIRROR = os.path.join(os.path.dirname(REPO_ROOT), "shared", "charts")
VENV_BIN = os.path.dirname(sys.executable)

DAG_MODES = ["gitsync", "gitbundle", "efs"]
EXECUTORS = ["KubernetesExecutor", "CeleryExecutor"]


def _throwaway_deploy_key():
    """A real Ed25519 key made for this run: validate.yml parses the key before anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()


BASE_VARS = {
    "airflow_helm_cluster_name": "unit-eks",
    "airflow_helm_git_repo": "git@github.com:example/mlops-dags.git",
    "airflow_helm_git_ssh_key": _throwaway_deploy_key(),
    "airflow_helm_git_known_hosts": "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    "airflow_helm_dags_pvc": "airflow-dags",
    "airflow_helm_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/UNIT",
    "airflow_helm_ingress_host": "airflow.example.com",
    # What the start stage (account.yml, secrets.yml) computes from the AWS APIs before it renders the values.
    "_airflow_helm_aws_region": "eu-west-1",
    "_airflow_helm_log_bucket_name": "unit-eks-airflow-logs-123456789012-eu-west-1",
    "_airflow_helm_role_arns": {
        "scheduler": "arn:aws:iam::123456789012:role/mlops-eks-platform/unit-eks-airflow-scheduler",
    },
}


# Variants that change the shape of the values ride on one matrix entry each, so every
# rendering is also one of the 24 combinations (and the test renders 24 times, not 32).
VARIANTS = {
    # The seeds' git-sync settings: depth 5, DAGs at the repository root.
    "gitsync-KubernetesExecutor-logs-ingress": {"airflow_helm_git_depth": 5, "airflow_helm_git_sub_path": ""},
    "gitbundle-KubernetesExecutor-logs-noingress": {"airflow_helm_git_sub_path": "", "airflow_helm_git_rev": "v1.2.3"},
    "efs-KubernetesExecutor-logs-ingress": {
        "airflow_helm_image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops/airflow:ctx-0123456789abcdef01234567@sha256:"
                              + "a" * 64},
    "efs-CeleryExecutor-nologs-noingress": {"airflow_helm_image": "registry.example.com:5000/mlops/airflow:3.1.7-1"},
    "efs-KubernetesExecutor-nologs-noingress": {"airflow_helm_pgbouncer_enabled": False, "airflow_helm_metrics_enabled": False},
    "gitsync-CeleryExecutor-nologs-ingress": {
        "airflow_helm_ingress_host": "", "airflow_helm_ingress_scheme": "internet-facing",
        "airflow_helm_ingress_certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/x"},
    "gitbundle-CeleryExecutor-logs-ingress": {
        "airflow_helm_log_bucket_encryption": "aws:kms", "airflow_helm_log_bucket_kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/x",
        "airflow_helm_worker_managed_policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
    "gitsync-KubernetesExecutor-nologs-noingress": {
        "airflow_helm_resources": {"scheduler": {"limits": {"memory": "4Gi"}}},
        "airflow_helm_extra_values": {"config": {"core": {"parallelism": 64}},
                                      "workers": {"nodeSelector": {"mlops.eks_platform/node-group": "core"}}}},
}


def _combinations():
    cases = {}
    product = []
    for mode, executor, logging, ingress in itertools.product(DAG_MODES, EXECUTORS, [True, False], [True, False]):
        name = "%s-%s-%s-%s" % (mode, executor, "logs" if logging else "nologs", "ingress" if ingress else "noingress")
        product.append(name)
        cases[name] = {
            "airflow_helm_dags_mode": mode,
            "airflow_helm_executor": executor,
            "airflow_helm_logging_enabled": logging,
            "airflow_helm_ingress_enabled": ingress,
        }
        cases[name].update(VARIANTS.get(name, {}))
    return cases, product


CASES, PRODUCT = _combinations()
GUARD_VALUE = "s3cr3t-passed-inline"


def _validated(name):
    """Cases that also run the role's validate.yml: every variant and each DAG mode at least once.
    validate.yml's branches depend on the DAG mode, logging, IRSA and ingress only, and running
    its assertions for all 24 renderings would double the time of this test."""
    return name in VARIANTS or name == "efs-CeleryExecutor-logs-ingress"


def _include(tasks_from):
    return {"name": tasks_from,
            "ansible.builtin.include_role": {"name": "mlops.eks_platform.airflow_helm", "tasks_from": tasks_from}}


def _playbook(cases, out_dir):
    plays = []
    for index, (name, overrides) in enumerate(cases.items()):
        play_vars = dict(BASE_VARS)
        play_vars.update(overrides)
        tasks = ([_include("validate")] if _validated(name) else []) + [_include("values")]
        # Facts outlive the play: keep each rendering and write them all once at the end.
        tasks.append({"name": "Keep", "ansible.builtin.set_fact": {"unit_case_%d" % index: "{{ _airflow_helm_values }}"}})
        plays.append({"name": "Render %s" % name, "hosts": "localhost", "gather_facts": False,
                      "vars": play_vars, "tasks": tasks})
    # The inline-secret guard: validate.yml must refuse extra values that carry a secret.
    for name, extra in (("refuse-fernet", {"fernetKey": GUARD_VALUE}),
                        ("refuse-ssh-key", {"dags": {"gitSync": {"sshKey": GUARD_VALUE}}}),
                        ("refuse-admin-password", {"createUserJob": {"defaultUser": {"password": GUARD_VALUE}}}),
                        ("refuse-db-password", {"data": {"metadataConnection": {"pass": GUARD_VALUE}}})):
        play_vars = dict(BASE_VARS)
        play_vars["airflow_helm_extra_values"] = extra
        plays.append({
            "name": "Guard %s" % name,
            "hosts": "localhost",
            "gather_facts": False,
            "vars": play_vars,
            "tasks": [{
                "name": "Validate and record the outcome",
                "block": [
                    _include("validate"),
                    {"name": "Record acceptance", "ansible.builtin.set_fact": {
                        "unit_guards": "{{ unit_guards | default({}) | combine({%r: 'accepted'}) }}" % name}},
                ],
                "rescue": [
                    {"name": "Record refusal", "ansible.builtin.set_fact": {
                        "unit_guards": "{{ unit_guards | default({}) | combine({%r: ansible_failed_result.msg}) }}"
                                       % name}},
                ],
            }],
        })
    plays.append({"name": "Save", "hosts": "localhost", "gather_facts": False, "vars": {"unit_names": list(cases)}, "tasks": [
        {"name": "Save the renderings", "ansible.builtin.copy": {
            "content": ("{{ {'values': dict(unit_names | zip(range(unit_names | length)"
                        " | map('regex_replace', '^', 'unit_case_') | map('extract', hostvars['localhost']))),"
                        " 'guards': unit_guards} | to_json }}"),
            "dest": os.path.join(out_dir, "rendered.json"), "mode": "0644"}}]})
    return plays


def render_cases(out_dir, ansible_env, run_cmd):
    """Render every case; returns ({case name: chart values}, {guard name: outcome})."""
    playbook = os.path.join(out_dir, "render.yml")
    with open(playbook, "w") as handle:
        yaml.safe_dump(_playbook(CASES, out_dir), handle, sort_keys=False)
    env = dict(ansible_env)
    # Rendering must not need (or reach) any AWS endpoint or cluster.
    env.update({"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable})
    run_cmd([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", playbook], env, timeout=600)
    with open(os.path.join(out_dir, "rendered.json")) as handle:
        result = json.load(handle)
    values, guards = result["values"], result["guards"]
    assert set(values) == set(CASES)
    return values, guards
