# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The places that must spell the GPU label and taint themselves agree with the gpu_nodes role.

The role's vars (roles/gpu_nodes/vars/main.yml: _gpu_nodes_label, _gpu_nodes_taint) are the
source of truth, and the tests read them through tests/tools/role_constants.py. A few places
cannot read them and keep a literal: the example DAG (users copy it into their DAG repository),
the role's own device plugin settings, taints and tolerations written out in the roles' and the
molecule scenarios' YAML, and the documentation. These tests tie each to the role.
"""

import ast
import os
import re
import subprocess

import pytest
import yaml

from role_constants import GPU_LABEL, GPU_RESOURCE, GPU_TAINT, GPU_TOLERATION, REPO_ROOT, role_file, role_value

EXAMPLE_DAG = os.path.join(REPO_ROOT, "examples", "dags", "mlops_training_pipeline.py")
# "nvidia.com/gpu=true" (a label) or "nvidia.com/gpu=true:NoSchedule" (a taint), as docs write them.
WRITTEN_FORM = re.compile(r"nvidia\.com/gpu=([\w.-]+)(?::(\w+))?")


def _example_dag_constants():
    """The module-level assignments of the example DAG, read without importing it (it needs
    Airflow): literals as values, calls as (function name, keyword arguments)."""
    with open(EXAMPLE_DAG, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), EXAMPLE_DAG)

    def value(node):
        if isinstance(node, ast.Call):
            return (ast.unparse(node.func), {kw.arg: value(kw.value) for kw in node.keywords})
        if isinstance(node, ast.List):
            return [value(item) for item in node.elts]
        return ast.literal_eval(node)

    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.startswith("GPU_"):
                out[name] = value(node.value)
    return out


def test_the_role_label_and_taint_are_what_the_tests_read():
    assert GPU_LABEL == {GPU_TAINT["key"]: GPU_TAINT["value"]}
    assert set(GPU_TAINT) == {"key", "value", "effect"}
    # Kubernetes spelling; the EKS API's NO_SCHEDULE is the modules' business.
    assert GPU_TAINT["effect"] in ("NoSchedule", "PreferNoSchedule", "NoExecute")
    assert GPU_TOLERATION == dict(GPU_TAINT, operator="Equal")


def test_the_example_dag_asks_for_what_the_role_gives_gpu_nodes():
    constants = _example_dag_constants()
    assert constants["GPU_RESOURCE"] == GPU_RESOURCE
    assert constants["GPU_NODE_SELECTOR"] == GPU_LABEL
    assert ("k8s.V1Toleration", GPU_TOLERATION) in constants["GPU_TOLERATIONS"], constants["GPU_TOLERATIONS"]


def test_the_device_plugin_runs_on_the_labelled_nodes_and_tolerates_the_taint():
    tolerations = role_value("gpu_nodes", "_gpu_nodes_tolerations")
    assert {"key": GPU_TAINT["key"], "operator": "Exists", "effect": GPU_TAINT["effect"]} in tolerations
    # _gpu_nodes_affinity has a templated entry (the host plugin label), so it is read as a whole.
    affinity = role_file("gpu_nodes", "vars")["_gpu_nodes_affinity"]
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    label_key, label_value = next(iter(GPU_LABEL.items()))
    for term in terms:
        assert {"key": label_key, "operator": "In", "values": [label_value]} in term["matchExpressions"], term


def _gpu_taint_entries(node, where):
    """(where, entry) of every mapping under NODE that names the GPU taint key with an effect: a
    taint or a toleration written out in a task, a var or a molecule scenario."""
    if isinstance(node, dict):
        if node.get("key") == GPU_TAINT["key"] and "effect" in node:
            yield where, node
        for value in node.values():
            yield from _gpu_taint_entries(value, where)
    elif isinstance(node, list):
        for value in node:
            yield from _gpu_taint_entries(value, where)


def test_every_gpu_taint_written_in_yaml_is_the_roles():
    # The EKS API spells the effect NO_SCHEDULE where Kubernetes writes NoSchedule.
    eks_effect = re.sub(r"(?<!^)([A-Z])", r"_\1", GPU_TAINT["effect"]).upper()
    entries, wrong = 0, []
    for top in ("roles", "molecule", "playbooks", "examples"):
        for folder, _dirs, files in os.walk(os.path.join(REPO_ROOT, top)):
            for name in sorted(files):
                if not name.endswith((".yml", ".yaml")):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    docs = list(yaml.safe_load_all(handle))
                for where, entry in _gpu_taint_entries(docs, os.path.relpath(path, REPO_ROOT)):
                    entries += 1
                    if (entry["effect"] not in (GPU_TAINT["effect"], eks_effect)
                            or entry.get("value", GPU_TAINT["value"]) != GPU_TAINT["value"]):
                        wrong.append("%s: %s" % (where, entry))
    # At least the role's own taint and device plugin toleration.
    assert entries >= 2, entries
    assert not wrong, "GPU taints written differently from roles/gpu_nodes/vars/main.yml:\n" + "\n".join(wrong)


def test_role_value_refuses_a_templated_value():
    with pytest.raises(ValueError, match="templated"):
        role_value("gpu_nodes", "gpu_nodes_cluster_name")
    with pytest.raises(KeyError):
        role_value("gpu_nodes", "no_such_variable")


def test_every_written_gpu_label_and_taint_is_the_roles():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    found, wrong = 0, []
    for path in listed:
        full = os.path.join(REPO_ROOT, path)
        if path.startswith("build/") or not os.path.isfile(full):
            continue
        with open(full, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for match in WRITTEN_FORM.finditer(line):
                found += 1
                value, effect = match.groups()
                if value != GPU_TAINT["value"] or effect not in (None, GPU_TAINT["effect"]):
                    wrong.append("%s:%d: %s" % (path, number, match.group(0)))
    # The role's README, argument spec and defaults, the example DAG and README, the changelog.
    assert found >= 10, found
    assert not wrong, "written differently from roles/gpu_nodes/vars/main.yml (%s=%s:%s):\n%s" % (
        GPU_TAINT["key"], GPU_TAINT["value"], GPU_TAINT["effect"], "\n".join(wrong))
