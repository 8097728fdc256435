# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emulator's provisioning delays and request log (tests/tools/moto_patches/provisioning_delays.py,
request_log.py), on a moto server of their own started through the sandbox CLI.

With MLOPS_MOTO_DELAYS set, EKS clusters and node groups, RDS instances and EFS file systems
report their creating states (without an endpoint where AWS has none yet) for the configured
seconds, the calls AWS refuses meanwhile are refused, and deletions can take time too. The
collection's waits are then really exercised: the modules must poll until the resource is
active. MLOPS_MOTO_REQUEST_LOG records every AWS request, which is how the waits are timed here.
"""

from __future__ import annotations

import json
import os
import time

import pytest

# From tests/tools (pytest.ini's pythonpath).
import deploy_figures
import sandbox as sandbox_tool
from moto_patches import provisioning_delays

pytestmark = pytest.mark.aws

# Short, so that the whole file stays well under a minute. The EKS modules poll every second here
# (wait_interval), the EFS module every 5 s; the RDS instance gets a longer delay so that the wait
# loop, which starts after another module call, still sees it creating.
DELAY = {"eks_cluster": 2.0, "eks_nodegroup": 2.0, "rds_instance": 5.0, "efs_file_system": 2.0,
         "eks_nodegroup_delete": 1.0, "rds_instance_delete": 1.0}
DELAYS = ",".join("%s=%s" % item for item in sorted(DELAY.items()))


@pytest.fixture(scope="module")
def delayed_aws(tmp_path_factory, ansible_env, run_cmd):
    """A moto server of its own, started by `python -m sandbox up --only aws` with delays and a request log."""
    import boto3

    root = str(tmp_path_factory.mktemp("delays-sbx"))
    log = os.path.join(root, "requests.jsonl")
    env = sandbox_tool.command_env(dict(ansible_env, MLOPS_MOTO_DELAYS=DELAYS, MLOPS_MOTO_REQUEST_LOG=log))
    cli = sandbox_tool.command("--dir", root)
    run_cmd(cli + ["up", "--only", "aws"], env, timeout=120)
    moto = sandbox_tool.Moto(root)
    try:
        def client(service):
            return boto3.client(service, endpoint_url=moto.endpoint, region_name=sandbox_tool.AWS_REGION,
                                aws_access_key_id=sandbox_tool.AWS_ACCESS_KEY_ID,
                                aws_secret_access_key=sandbox_tool.AWS_SECRET_ACCESS_KEY)

        def requests():
            with open(log) as handle:
                return [json.loads(line) for line in handle if line.strip()]

        yield type("DelayedAws", (), {"client": staticmethod(client), "requests": staticmethod(requests),
                                      "env": dict(env, **moto.env()), "log": log})
    finally:
        run_cmd(cli + ["down", "--only", "aws"], env, check=False)


def _network(aws, cidr):
    ec2, iam = aws.client("ec2"), aws.client("iam")
    vpc = ec2.create_vpc(CidrBlock=cidr + ".0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="%s.%d.0/24" % (cidr, i + 1),
                                 AvailabilityZone="eu-west-1" + zone)["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "eks.amazonaws.com"}}
    trust = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    role = iam.create_role(RoleName="delays-" + cidr.replace(".", "-"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    return vpc, subnets, role


def test_parse_delays():
    assert provisioning_delays.parse("") == {}
    assert provisioning_delays.parse(" eks_cluster=60, rds_instance=4.5,efs_file_system_delete=1 ") == {
        "eks_cluster": 60.0, "rds_instance": 4.5, "efs_file_system_delete": 1.0}
    for wrong in ("eks=60", "eks_cluster", "rds_instance=-1", "eks_cluster=soon"):
        with pytest.raises(ValueError):
            provisioning_delays.parse(wrong)


def test_bench_figures():
    """The figures of the deploy benchmark (tests/tools/deploy_figures.py, used by bench/deploy.py):
    the longest chain and the serial sum of the delays, and request attribution."""
    delays = provisioning_delays.parse("eks_cluster=60,eks_nodegroup=30,rds_instance=45,efs_file_system=5")
    created = {"eks_cluster": 1, "eks_nodegroup": 2, "rds_instance": 1, "efs_file_system": 1, "efs_mount_target": 3}
    assert deploy_figures.delay_figures(delays, created) == (90.0, "eks_cluster -> eks_nodegroup", 170.0)
    assert deploy_figures.delay_figures(dict(delays, rds_instance=120.0), created)[:2] == (120.0, "rds_instance")
    assert deploy_figures.busy_seconds([(0, 2), (1, 3), (5, 6)]) == 4
    # The named sets of --delays: the default is "scaled"; "aws" is AWS's own waits, tenfold and more.
    assert deploy_figures.DELAY_PRESETS["scaled"] == deploy_figures.DEFAULT_DELAYS
    aws = provisioning_delays.parse(deploy_figures.DELAY_PRESETS["aws"])
    assert deploy_figures.delay_figures(aws, created) == (840.0, "eks_cluster -> eks_nodegroup", 1560.0)

    timeline = [
        {"event": "task_start", "uuid": "a", "t": 10.0, "task": "Create", "role": "eks_cluster", "play": "P"},
        {"event": "task_end", "uuid": "a", "t": 12.0, "changed": True},
        {"event": "task_start", "uuid": "b", "t": 12.5, "task": "Report", "role": None, "play": "Summary"},
        {"event": "task_end", "uuid": "b", "t": 13.0, "changed": False},
    ]
    requests = [{"t": t, "service": "eks", "action": "DescribeCluster"} for t in (11.0, 12.2, 12.7)]
    roles = deploy_figures.per_role(requests, deploy_figures.task_windows(timeline))
    assert {k: (v["requests"], v["changed"]) for k, v in roles.items()} == {
        "eks_cluster": (2, 1), "(play) Summary": (1, 0)}


def test_creating_states_through_boto3(delayed_aws):
    """Creating states, what AWS refuses meanwhile, then active; deletions that take time."""
    from botocore.exceptions import ClientError

    eks, rds, efs = (delayed_aws.client(s) for s in ("eks", "rds", "efs"))
    _vpc, subnets, role = _network(delayed_aws, "10.61")

    started = time.monotonic()
    cluster = eks.create_cluster(name="boto", roleArn=role, resourcesVpcConfig={"subnetIds": subnets})["cluster"]
    database = rds.create_db_instance(DBInstanceIdentifier="boto-db", DBInstanceClass="db.t4g.medium",
                                      Engine="postgres", MasterUsername="admin_user", MasterUserPassword="x" * 16,
                                      AllocatedStorage=20)["DBInstance"]
    fs = efs.create_file_system(CreationToken="boto-fs")
    assert cluster["status"] == "CREATING" and "endpoint" not in cluster and "certificateAuthority" not in cluster
    assert database["DBInstanceStatus"] == "creating" and "Endpoint" not in database
    assert fs["LifeCycleState"] == "creating"

    def refused(code, call, **kwargs):
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        assert caught.value.response["Error"]["Code"] == code, caught.value.response

    refused("InvalidRequestException", eks.create_nodegroup, clusterName="boto", nodegroupName="ng", nodeRole=role,
            subnets=subnets)
    refused("InvalidDBInstanceState", rds.modify_db_instance, DBInstanceIdentifier="boto-db", AllocatedStorage=30,
            ApplyImmediately=True)
    refused("IncorrectFileSystemLifeCycleState", efs.create_mount_target, FileSystemId=fs["FileSystemId"],
            SubnetId=subnets[0])

    def wait_for(what, probe, wanted, limit):
        seen = set()
        while True:
            states = probe()
            seen.add(states)
            if states == wanted:
                return seen
            assert time.monotonic() - started < limit + 10, (what, states)
            time.sleep(0.2)

    def cluster_and_fs():
        return (eks.describe_cluster(name="boto")["cluster"]["status"],
                efs.describe_file_systems(FileSystemId=fs["FileSystemId"])["FileSystems"][0]["LifeCycleState"])

    def instance():
        return rds.describe_db_instances(DBInstanceIdentifier="boto-db")["DBInstances"][0]["DBInstanceStatus"]

    seen = wait_for("cluster and file system", cluster_and_fs, ("ACTIVE", "available"),
                    max(DELAY["eks_cluster"], DELAY["efs_file_system"]))
    assert time.monotonic() - started >= max(DELAY["eks_cluster"], DELAY["efs_file_system"])
    assert ("CREATING", "creating") in seen
    cluster = eks.describe_cluster(name="boto")["cluster"]
    assert cluster["endpoint"] and cluster["certificateAuthority"]["data"]
    efs.create_mount_target(FileSystemId=fs["FileSystemId"], SubnetId=subnets[0])

    # A node group takes its time too, and can not be updated before it is ACTIVE.
    nodegroup = eks.create_nodegroup(clusterName="boto", nodegroupName="ng", nodeRole=role, subnets=subnets)
    assert nodegroup["nodegroup"]["status"] == "CREATING"
    refused("ResourceInUseException", eks.update_nodegroup_config, clusterName="boto", nodegroupName="ng",
            scalingConfig={"desiredSize": 1})

    # The instance (longer delay) is still creating meanwhile.
    assert "creating" in wait_for("instance", instance, "available", DELAY["rds_instance"])
    assert time.monotonic() - started >= DELAY["rds_instance"]
    assert rds.describe_db_instances(DBInstanceIdentifier="boto-db")["DBInstances"][0]["Endpoint"]["Port"] == 5432
    assert eks.describe_nodegroup(clusterName="boto", nodegroupName="ng")["nodegroup"]["status"] == "ACTIVE"

    # Deleting the instance: "deleting" for a while, then gone.
    rds.delete_db_instance(DBInstanceIdentifier="boto-db", SkipFinalSnapshot=True)
    assert instance() == "deleting"

    # Deleting the node group: DELETING, still blocks the cluster's deletion, then gone.
    eks.delete_nodegroup(clusterName="boto", nodegroupName="ng")
    assert eks.describe_nodegroup(clusterName="boto", nodegroupName="ng")["nodegroup"]["status"] == "DELETING"
    assert eks.list_nodegroups(clusterName="boto")["nodegroups"] == ["ng"]
    refused("ResourceInUseException", eks.delete_cluster, name="boto")
    time.sleep(max(DELAY["eks_nodegroup_delete"], DELAY["rds_instance_delete"]) + 0.2)
    assert eks.list_nodegroups(clusterName="boto")["nodegroups"] == []
    refused("DBInstanceNotFound", rds.describe_db_instances, DBInstanceIdentifier="boto-db")
    eks.delete_cluster(name="boto")
    assert "boto" not in eks.list_clusters()["clusters"]

    entries = delayed_aws.requests()
    actions = {(e["service"], e["action"]) for e in entries}
    assert {("eks", "CreateCluster"), ("rds", "CreateDBInstance"), ("efs", "CreateFileSystem"),
            ("ec2", "CreateVpc"), ("iam", "CreateRole")} <= actions
    refusals = [e for e in entries if e["action"] == "ModifyDBInstance"]
    assert refusals and refusals[0]["status"] == 400
    assert not [e for e in entries if e["path"].startswith("/moto-api")]
    assert all(set(e) == {"t", "service", "action", "method", "path", "status", "ms"} for e in entries)


PLAYBOOK = r"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Create the control plane (waits for ACTIVE)
      mlops.eks_platform.eks_control_plane:
        name: mod
        version: "1.33"
        role_arn: "{{ role }}"
        subnets: "{{ subnets }}"
        wait_timeout: 120
        wait_interval: 1
      register: control_plane

    - name: Create the RDS instance without waiting, as rds_metadata does
      amazon.aws.rds_instance:
        db_instance_identifier: mod-db
        engine: postgres
        db_instance_class: db.t4g.medium
        allocated_storage: 20
        master_username: admin_user
        master_user_password: "{{ 'x' * 16 }}"
        wait: false
      register: db

    - name: Wait for the instance, as rds_metadata does
      amazon.aws.rds_instance_info:
        db_instance_identifier: mod-db
      register: db_info
      until: db_info.instances[0].db_instance_status == 'available' and db_info.instances[0].endpoint.address | default('') | length > 0
      retries: 60
      delay: 1

    - name: Create the file system (the module waits until it is available)
      mlops.eks_platform.efs_file_system:
        name: mod-fs
        wait_timeout: 60
      register: fs

    - name: Create a node group (waits for ACTIVE)
      mlops.eks_platform.eks_managed_nodegroup:
        cluster_name: mod
        name: mod-ng
        node_role: "{{ role }}"
        subnets: "{{ subnets }}"
        min_size: 0
        max_size: 1
        wait_timeout: 120
        wait_interval: 1
      register: nodegroup

    - name: Check what the modules saw
      ansible.builtin.assert:
        that:
          - control_plane.cluster.status == 'ACTIVE'
          - control_plane.cluster.endpoint | length > 0
          - db.db_instance_status == 'creating'
          - db.endpoint is not defined
          - db_info.attempts > 1
          - db_info.instances[0].endpoint.port == 5432
          - fs.file_system.life_cycle_state == 'available'
          - nodegroup.nodegroup.status == 'ACTIVE'
"""


def test_collection_waits_are_exercised(delayed_aws, run_cmd, tmp_path):
    """eks_control_plane, eks_managed_nodegroup and efs_file_system poll until active, and so does
    rds_metadata's wait loop (amazon.aws.rds_instance with wait=true polls once a minute, too slow
    for this test: rds_metadata uses the loop instead)."""
    _vpc, subnets, role = _network(delayed_aws, "10.62")
    playbook = tmp_path / "waits.yml"
    playbook.write_text(PLAYBOOK)
    extra = json.dumps({"role": role, "subnets": subnets})
    before = time.time()
    run_cmd(["ansible-playbook", str(playbook), "-i", "localhost,", "-e", extra], delayed_aws.env, timeout=300)

    entries = [e for e in delayed_aws.requests() if e["t"] >= before]

    def waited(service, create_action, create_path, poll_action, poll_path):
        """Seconds between the create call and the last poll of the resource, and the number of polls."""
        create = [e for e in entries if e["action"] == create_action and e["path"] == create_path]
        assert len(create) == 1, (create_action, create)
        polls = [e for e in entries if e["service"] == service and e["action"] == poll_action
                 and e["path"] == poll_path and e["t"] > create[0]["t"]]
        assert polls, (poll_action, poll_path)
        return polls[-1]["t"] - create[0]["t"], len(polls)

    seconds, polls = waited("eks", "CreateCluster", "/clusters", "DescribeCluster", "/clusters/mod")
    assert seconds >= DELAY["eks_cluster"] and polls >= 2
    seconds, polls = waited("eks", "CreateNodegroup", "/clusters/mod/node-groups", "DescribeNodegroup",
                            "/clusters/mod/node-groups/mod-ng")
    assert seconds >= DELAY["eks_nodegroup"] and polls >= 2
    seconds, polls = waited("efs", "CreateFileSystem", "/2015-02-01/file-systems", "DescribeFileSystems",
                            "/2015-02-01/file-systems")
    assert seconds >= DELAY["efs_file_system"] and polls >= 2
    seconds, polls = waited("rds", "CreateDBInstance", "/", "DescribeDBInstances", "/")
    assert seconds >= DELAY["rds_instance"] and polls >= 2
