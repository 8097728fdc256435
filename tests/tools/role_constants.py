# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Labels, taints and names the tests share with the roles, read from the roles themselves.

The roles' defaults and vars (roles/<role>/defaults/main.yml, roles/<role>/vars/main.yml) are
the source of truth. A test that needs the GPU taint, the GPU node label or a namespace reads
it here instead of spelling the literal again, so a change in a role reaches every test at
once. Where a literal has to stay (the example DAG users copy, the docs),
tests/unit/test_role_constants.py checks that it still agrees with the role.
"""

import functools
import os

import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(maxsize=None)
def role_file(role, kind):
    """roles/ROLE/KIND/main.yml (KIND: vars or defaults) as loaded, templated values included."""
    path = os.path.join(REPO_ROOT, "roles", role, kind, "main.yml")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def role_value(role, name):
    """The value of NAME in ROLE: its vars/main.yml first, then its defaults/main.yml (the order in
    which Ansible lets role vars win over role defaults). Only plain values: a templated one
    depends on the inventory and cannot be shared as a constant."""
    for kind in ("vars", "defaults"):
        values = role_file(role, kind)
        if name in values:
            if "{{" in repr(values[name]):
                raise ValueError("%s in roles/%s/%s/main.yml is templated, not a constant" % (name, role, kind))
            return values[name]
    raise KeyError("%s is in neither roles/%s/vars/main.yml nor its defaults" % (name, role))


# The label and taint the gpu_nodes role gives every GPU node (Kubernetes spelling: the effect
# is NoSchedule; the EKS API spells it NO_SCHEDULE).
GPU_LABEL = dict(role_value("gpu_nodes", "_gpu_nodes_label"))
GPU_TAINT = dict(role_value("gpu_nodes", "_gpu_nodes_taint"))
# What a pod must carry to be scheduled on a GPU node.
GPU_TOLERATION = {"key": GPU_TAINT["key"], "operator": "Equal", "value": GPU_TAINT["value"],
                  "effect": GPU_TAINT["effect"]}
GPU_NODE_SELECTOR = GPU_LABEL
# The extended resource the NVIDIA device plugin advertises: NVIDIA's name, not a setting of the
# role (so not in its vars); the one place the tests spell it.
GPU_RESOURCE = "nvidia.com/gpu"

# The namespaces site.yml creates with the roles' defaults.
NAMESPACES = {
    "airflow": role_value("airflow_helm", "airflow_helm_namespace"),
    # mlflow_helm_namespace defaults to the namespace rds_metadata prepared for MLflow.
    "mlflow": role_value("rds_metadata", "rds_metadata_mlflow_namespace"),
    "rds_metadata_job": role_value("rds_metadata", "rds_metadata_job_namespace"),
}
