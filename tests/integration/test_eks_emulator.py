# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The EKS-related gaps of moto 5.2 that tests/tools/moto_patches/eks_*.py close, checked with boto3.

These pin down the upstream behaviour the patches restore. If a moto upgrade breaks a patch, the
failure shows here, with the API call in question, rather than deep inside a molecule scenario.
"""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import generate_token
from ansible_collections.mlops.eks_platform.plugins.module_utils.eks.kubeconfig import url_from_token

pytestmark = pytest.mark.aws


@pytest.fixture(scope="module")
def account(aws_sandbox):
    """One emulated account for the module: a reset reloads IAM's managed policies, which is slow."""
    import boto3
    import sandbox as sandbox_tool

    aws_sandbox.reset()

    def client(service):
        return boto3.client(service, endpoint_url=aws_sandbox.endpoint, region_name=sandbox_tool.AWS_REGION,
                            aws_access_key_id=sandbox_tool.AWS_ACCESS_KEY_ID,
                            aws_secret_access_key=sandbox_tool.AWS_SECRET_ACCESS_KEY)

    return client


@pytest.fixture
def cluster(account):
    name = "emu-" + uuid.uuid4().hex[:8]
    ec2, iam, eks = account("ec2"), account("iam"), account("eks")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.%d.0/24" % i, AvailabilityZone="eu-west-1" + z)["Subnet"]
               ["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    created = eks.create_cluster(name=name, version="1.32", roleArn=role, resourcesVpcConfig={"subnetIds": subnets},
                                 logging={"clusterLogging": [{"types": ["api"], "enabled": True}]})["cluster"]
    return {"name": name, "eks": eks, "ec2": ec2, "iam": iam, "vpc": vpc, "subnets": subnets, "role": role,
            "cluster": created}


def error_code(call):
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_create_cluster_fills_in_vpc_config_like_eks(cluster):
    config = cluster["cluster"]["resourcesVpcConfig"]
    assert config["vpcId"] == cluster["vpc"]
    assert config["endpointPublicAccess"] is True and config["endpointPrivateAccess"] is False
    assert config["publicAccessCidrs"] == ["0.0.0.0/0"]
    groups = cluster["ec2"].describe_security_groups(GroupIds=[config["clusterSecurityGroupId"]])["SecurityGroups"]
    assert {"Key": "kubernetes.io/cluster/" + cluster["name"], "Value": "owned"} in groups[0]["Tags"]
    cluster["eks"].delete_cluster(name=cluster["name"])
    assert error_code(lambda: cluster["ec2"].describe_security_groups(GroupIds=[config["clusterSecurityGroupId"]]))[0] \
        == "InvalidGroup.NotFound"


def test_create_cluster_needs_real_subnets_in_two_zones(cluster):
    code, message = error_code(lambda: cluster["eks"].create_cluster(
        name="bad", roleArn=cluster["role"], resourcesVpcConfig={"subnetIds": cluster["subnets"][:1]}))
    assert code == "InvalidParameterException" and "two different AZs" in message


def test_version_updates_go_one_minor_at_a_time_and_are_recorded(cluster):
    eks = cluster["eks"]
    assert error_code(lambda: eks.update_cluster_version(name=cluster["name"], version="1.34")) == (
        "InvalidParameterException", "Unsupported Kubernetes minor version update from 1.32 to 1.34")
    update = eks.update_cluster_version(name=cluster["name"], version="1.33")["update"]
    assert eks.describe_update(name=cluster["name"], updateId=update["id"])["update"]["status"] == "Successful"
    assert eks.describe_cluster(name=cluster["name"])["cluster"]["version"] == "1.33"
    assert eks.list_updates(name=cluster["name"])["updateIds"] == [update["id"]]


def test_update_cluster_config_merges_refuses_no_ops_and_mixed_updates(cluster):
    eks = cluster["eks"]
    update = eks.update_cluster_config(name=cluster["name"], resourcesVpcConfig={"endpointPrivateAccess": True})["update"]
    assert update["type"] == "EndpointAccessUpdate"
    config = eks.describe_cluster(name=cluster["name"])["cluster"]["resourcesVpcConfig"]
    assert config["endpointPrivateAccess"] and config["subnetIds"] == cluster["subnets"]
    assert error_code(lambda: eks.update_cluster_config(
        name=cluster["name"], logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}))[0] == "InvalidParameterException"
    assert "Only one type" in error_code(lambda: eks.update_cluster_config(
        name=cluster["name"], resourcesVpcConfig={"endpointPrivateAccess": False},
        logging={"clusterLogging": [{"types": ["audit"], "enabled": True}]}))[1]


def test_add_ons_follow_the_catalogue_and_refuse_downgrades(cluster):
    eks = cluster["eks"]
    versions = eks.describe_addon_versions(addonName="kube-proxy", kubernetesVersion="1.32")["addons"][0]["addonVersions"]
    default = [v["addonVersion"] for v in versions if v["compatibilities"][0]["defaultVersion"]]
    assert default == ["v1.32.3-eksbuild.2"]
    addon = eks.create_addon(clusterName=cluster["name"], addonName="kube-proxy", tags={"a": "b"})["addon"]
    assert addon["addonVersion"] == "v1.32.3-eksbuild.2"
    assert eks.list_tags_for_resource(resourceArn=addon["addonArn"])["tags"] == {"a": "b"}
    assert error_code(lambda: eks.create_addon(clusterName=cluster["name"], addonName="kube-proxy"))[0] == "ResourceInUseException"
    assert error_code(lambda: eks.update_addon(clusterName=cluster["name"], addonName="kube-proxy",
                                               addonVersion="v1.32.0-eksbuild.1"))[0] == "InvalidParameterException"
    assert error_code(lambda: eks.describe_addon(clusterName=cluster["name"], addonName="coredns"))[0] == "ResourceNotFoundException"


def test_node_groups_default_to_the_cluster_version_and_take_tags(cluster):
    eks = cluster["eks"]
    group = eks.create_nodegroup(clusterName=cluster["name"], nodegroupName="ng", nodeRole=cluster["role"],
                                 subnets=cluster["subnets"], scalingConfig={"minSize": 0, "maxSize": 1, "desiredSize": 0}
                                 )["nodegroup"]
    assert group["version"] == "1.32" and group["updateConfig"] == {"maxUnavailable": 1}
    assert "remoteAccess" not in group
    eks.tag_resource(resourceArn=group["nodegroupArn"], tags={"team": "ml"})
    assert eks.list_tags_for_resource(resourceArn=group["nodegroupArn"])["tags"] == {"team": "ml"}
    assert error_code(lambda: eks.update_nodegroup_version(clusterName=cluster["name"], nodegroupName="ng", version="1.33"))[0] \
        == "InvalidParameterException"


def test_nat_gateway_tags_are_found_by_the_resource_type_aws_uses(account):
    ec2 = account("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation, TagSpecifications=[
        {"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "x"}]}])["NatGateway"]["NatGatewayId"]
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [nat]},
                                      {"Name": "resource-type", "Values": ["natgateway"]}])["Tags"]
    assert [(t["Key"], t["ResourceType"]) for t in tags] == [("Name", "natgateway")]


def test_kms_takes_key_arns_for_scheduling_deletion(account):
    kms = account("kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.schedule_key_deletion(KeyId=arn, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=arn)


def test_an_eks_token_replays_against_sts_like_the_authenticator_does(account):
    token = generate_token(account("sts"), "emu")[0]
    request = urllib.request.Request(url_from_token(token), headers={"x-k8s-aws-id": "emu"})
    with urllib.request.urlopen(request, timeout=30) as response:  # nosec - the local emulator
        body = response.read().decode()
    assert "<GetCallerIdentityResult>" in body and "<Account>123456789012</Account>" in body


def test_oidc_provider_audiences_can_change(account):
    iam = account("iam")
    arn = iam.create_open_id_connect_provider(Url="https://oidc.eks.eu-west-1.amazonaws.com/id/EMU",
                                              ClientIDList=["sts.amazonaws.com"])["OpenIDConnectProviderArn"]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="other")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["other"]
