# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""site.yml overlaps the long AWS waits (playbooks/site.yml, the roles' stage entry points).

The shared site.yml run of the test session (the fixture site_run, tests/integration/conftest.py
and site_capture.py) has an emulated AWS that takes time to provision (OVERLAP_DELAYS, through
MLOPS_MOTO_DELAYS) and logs every request (MLOPS_MOTO_REQUEST_LOG). The order of the AWS requests shows the overlap, whatever the speed
of the machine:

* the RDS instances and the EFS file system are created while the control plane is still being
  created (before the first call that needs it ACTIVE);
* the GPU node group is created while the core node group is still being created, so the two
  come up together, and nothing is installed on the nodes before they are ACTIVE;
* every wait really polled (the resources reported their creating states first).

How much time that saves is measured by `make bench` (bench/deploy.py), not here.
"""

from __future__ import annotations

import re

import pytest

import site_capture

pytestmark = [pytest.mark.aws, pytest.mark.k8s]

NODEGROUP_DELAY = site_capture.OVERLAP_NODEGROUP_DELAY


def _indexes(requests, action, path_contains=""):
    return [i for i, r in enumerate(requests)
            if r["action"] == action and path_contains in (r.get("path") or "") and r["status"] < 400]


def test_the_run_converges(site_run):
    recap = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+).*failed=(\d+)", site_run["recap"])
    assert recap and int(recap.group(1)) > 0 and recap.group(2) == "0", site_run["recap"]


def test_database_and_file_system_start_while_the_control_plane_is_created(site_run):
    requests = site_run["requests"]
    create_cluster = _indexes(requests, "CreateCluster")
    create_db = _indexes(requests, "CreateDBInstance")
    create_fs = _indexes(requests, "CreateFileSystem")
    # The first call that needs an ACTIVE control plane: IRSA's OIDC provider, then the add-ons.
    needs_active = _indexes(requests, "CreateOpenIDConnectProvider") + _indexes(requests, "CreateAddon")
    assert len(create_cluster) == 1 and len(create_db) == 1 and len(create_fs) == 1, (
        create_cluster, create_db, create_fs)
    assert needs_active, "no request needed the control plane ACTIVE"
    assert create_cluster[0] < create_db[0] < min(needs_active), "RDS was not started while EKS was creating"
    assert create_cluster[0] < create_fs[0] < min(needs_active), "EFS was not created while EKS was creating"


def test_core_and_gpu_node_groups_come_up_together(site_run):
    requests = site_run["requests"]
    creates = _indexes(requests, "CreateNodegroup")
    assert len(creates) == 2, "expected the core and the GPU node group to be created once each"
    # The add-ons that run on nodes are installed once the core node group is ACTIVE, which the
    # emulator reports NODEGROUP_DELAY seconds after its creation: both groups must have been
    # created before that, and nothing may have been installed on the nodes earlier.
    node_addons = [i for i in _indexes(requests, "CreateAddon") if i > creates[0]]
    assert node_addons, "no add-on installed after the core node group"
    core_active = requests[creates[0]]["t"] + NODEGROUP_DELAY
    assert requests[creates[1]]["t"] < core_active, "the GPU node group was created only after the core one was ready"
    assert requests[node_addons[0]]["t"] >= core_active, "node add-ons installed before the core node group was ACTIVE"


def test_every_long_wait_polled(site_run):
    requests = site_run["requests"]
    create_cluster = _indexes(requests, "CreateCluster")[0]
    create_db = _indexes(requests, "CreateDBInstance")[0]
    cluster_polls = [i for i in _indexes(requests, "DescribeCluster") if i > create_cluster]
    db_polls = [i for i in _indexes(requests, "DescribeDBInstances") if i > create_db]
    assert len(cluster_polls) >= 2, "the control plane was never polled while creating"
    assert len(db_polls) >= 2, "the database was never polled while creating"
