# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The network step of eks_cluster in the layouts the molecule scenario does not run.

The scenario runs the whole role with one NAT gateway. This test runs only the role's network
tasks (``tasks_from: network.yml``) against the patched moto, with the production default
(``per_az``: a NAT gateway and a private route table per zone) over two zones, then adopts those
subnets as a bring-your-own network. Idempotence of the same tasks is the scenario's job.
"""

from __future__ import annotations

import os
import sys

import pytest

pytestmark = pytest.mark.aws

PLAYBOOK = r"""
- hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    eks_cluster_name: net-test
    eks_cluster_vpc_cidr: 10.44.0.0/16
    eks_cluster_nat_gateways: per_az
    eks_cluster_az_count: 2
  tasks:
    - name: Network, per_az
      ansible.builtin.include_role:
        name: mlops.eks_platform.eks_cluster
        tasks_from: network.yml

    - name: Keep what it made
      ansible.builtin.set_fact:
        first_private: "{{ _eks_cluster_private_subnet_ids }}"
        first_vpc: "{{ _eks_cluster_vpc_id }}"

    - name: Bring your own network - the same subnets, given by id
      ansible.builtin.include_role:
        name: mlops.eks_platform.eks_cluster
        tasks_from: network.yml
      vars:
        eks_cluster_subnet_ids:
          private: "{{ first_private }}"
          public: []

    - name: Check the adopted network
      ansible.builtin.assert:
        that:
          - _eks_cluster_vpc_id == first_vpc
          - _eks_cluster_private_subnet_ids == first_private
          - _eks_cluster_zones == ['eu-west-1a', 'eu-west-1b']
"""


def test_per_az_nat_gateways_and_route_tables_then_adopted(aws, run_cmd, tmp_path):
    playbook = tmp_path / "network.yml"
    playbook.write_text(PLAYBOOK)
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
            str(playbook)]
    proc = run_cmd(argv, aws.env, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]

    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:mlops.eks_platform/cluster", "Values": ["net-test"]}])["Vpcs"]
    assert len(vpc) == 1
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc[0]["VpcId"]]}]
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]}
    nats = ec2.describe_nat_gateways(Filters=vpc_filter + [{"Name": "state", "Values": ["available"]}])["NatGateways"]
    # One NAT gateway per zone, each in that zone's public subnet, tagged.
    assert sorted(subnets[n["SubnetId"]]["AvailabilityZone"] for n in nats) == ["eu-west-1a", "eu-west-1b"]
    assert all(any(t["Key"] == "kubernetes.io/role/elb" for t in subnets[n["SubnetId"]]["Tags"]) for n in nats)
    assert all({"Key": "mlops.eks_platform/cluster", "Value": "net-test"} in n["Tags"] for n in nats)
    nat_zone = {n["NatGatewayId"]: subnets[n["SubnetId"]]["AvailabilityZone"] for n in nats}
    # Each private subnet routes 0.0.0.0/0 through the NAT gateway of its own zone.
    tables = ec2.describe_route_tables(Filters=vpc_filter)["RouteTables"]
    private = [s for s in subnets.values() if any(t["Key"] == "kubernetes.io/role/internal-elb" for t in s["Tags"])]
    assert len(private) == 2
    for subnet in private:
        table = [t for t in tables if any(a.get("SubnetId") == subnet["SubnetId"] for a in t["Associations"])]
        assert len(table) == 1
        default = [r for r in table[0]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert nat_zone[default[0]["NatGatewayId"]] == subnet["AvailabilityZone"]
