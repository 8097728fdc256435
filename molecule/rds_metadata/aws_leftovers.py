# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the data-layer roles left in the emulated AWS account, for the molecule clean-up checks.

Usage: python aws_leftovers.py CLUSTER [--delete-network]

Prints one JSON object: every RDS instance, DB snapshot, security group, DB subnet group, DB
parameter group, Secrets Manager secret (including those scheduled for deletion), EFS file
system, access point and mount target that carries both ``ManagedBy: mlops.eks_platform`` and
``mlops.eks_platform/cluster: CLUSTER``, and the states of such KMS keys (a KMS key cannot be
deleted at once; ``PendingDeletion`` is as gone as it gets), and the VPCs of the scenario's own network
(``networks``: tagged for CLUSTER, without ``ManagedBy``). One process instead of a dozen
module calls keeps the scenarios fast. The rds_metadata and efs_dags scenarios share it.

With ``--delete-network`` it instead deletes the network the scenario's converge made (the VPCs
tagged for CLUSTER without ``ManagedBy``: their security groups, subnets, the VPC itself) and
prints ``{"deleted": [ids]}``.
"""

import json
import sys

import boto3

MANAGED_BY = "mlops.eks_platform"


def tag_dict(tags):
    # Most services say Key/Value, KMS says TagKey/TagValue.
    return {t.get("Key", t.get("TagKey")): t.get("Value", t.get("TagValue")) for t in tags or []}


def ours(tags, cluster):
    tags = tag_dict(tags) if isinstance(tags, list) else (tags or {})
    return tags.get("ManagedBy") == MANAGED_BY and tags.get("mlops.eks_platform/cluster") == cluster


def leftovers(cluster):
    rds = boto3.client("rds")
    ec2 = boto3.client("ec2")
    sm = boto3.client("secretsmanager")
    kms = boto3.client("kms")
    efs = boto3.client("efs")
    found = {}

    def rds_tags(arn):
        return rds.list_tags_for_resource(ResourceName=arn)["TagList"]

    found["instances"] = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]
                          if ours(rds_tags(i["DBInstanceArn"]), cluster)]
    found["snapshots"] = [s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots()["DBSnapshots"]
                          if ours(s.get("TagList") or rds_tags(s["DBSnapshotArn"]), cluster)]
    found["subnet_groups"] = [g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
                              if ours(rds_tags(g["DBSubnetGroupArn"]), cluster)]
    found["parameter_groups"] = [g["DBParameterGroupName"] for g in rds.describe_db_parameter_groups()["DBParameterGroups"]
                                 if ours(rds_tags(g["DBParameterGroupArn"]), cluster)]
    found["security_groups"] = [g["GroupId"] for g in ec2.describe_security_groups(Filters=[
        {"Name": "tag:ManagedBy", "Values": [MANAGED_BY]},
        {"Name": "tag:mlops.eks_platform/cluster", "Values": [cluster]}])["SecurityGroups"]]
    found["secrets"] = [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]
                        if ours(s.get("Tags"), cluster)]
    states = []
    for key in kms.list_keys()["Keys"]:
        if ours(kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags"), cluster):
            states.append(kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"])
    found["kms_key_states"] = states
    file_systems = [fs for fs in efs.describe_file_systems()["FileSystems"] if ours(fs.get("Tags"), cluster)]
    found["file_systems"] = [fs["FileSystemId"] for fs in file_systems]
    found["access_points"] = [ap["AccessPointId"] for ap in efs.describe_access_points()["AccessPoints"]
                              if ours(ap.get("Tags"), cluster)]
    found["mount_targets"] = [mt["MountTargetId"] for fs in file_systems
                              for mt in efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]]
    # Not the role's: the network the scenario's converge made (tagged for the cluster only).
    found["networks"] = [v["VpcId"] for v in ec2.describe_vpcs(Filters=[
        {"Name": "tag:mlops.eks_platform/cluster", "Values": [cluster]}])["Vpcs"]
        if tag_dict(v.get("Tags")).get("ManagedBy") != MANAGED_BY]
    return found


def delete_network(cluster):
    ec2 = boto3.client("ec2")
    deleted = []
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:mlops.eks_platform/cluster", "Values": [cluster]}])["Vpcs"]
    for vpc in vpcs:
        if tag_dict(vpc.get("Tags")).get("ManagedBy") == MANAGED_BY:
            continue  # a role's VPC is the role's to delete
        vpc_filter = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        for group in ec2.describe_security_groups(Filters=vpc_filter)["SecurityGroups"]:
            if group["GroupName"] != "default":
                ec2.delete_security_group(GroupId=group["GroupId"])
                deleted.append(group["GroupId"])
        for subnet in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
            deleted.append(subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
        deleted.append(vpc["VpcId"])
    return {"deleted": deleted}


def main(argv):
    if len(argv) < 2 or argv[2:] not in ([], ["--delete-network"]):
        sys.stderr.write(__doc__)
        return 2
    result = delete_network(argv[1]) if argv[2:] else leftovers(argv[1])
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
