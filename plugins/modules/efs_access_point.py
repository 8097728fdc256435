#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.eks_platform
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: efs_access_point
short_description: Manage an Amazon EFS access point
version_added: 0.1.0
description:
  - Creates or deletes an EFS access point, an application entry point into a file system. It
    enforces a POSIX user and group for every request made through it and roots the client in a
    directory, which EFS creates with the given owner and permissions on first use.
  - Neither M(community.aws.efs) nor any other module in amazon.aws or community.aws manages
    access points, and the EFS CSI driver needs one for each statically provisioned volume
    (C(volumeHandle) C(fs-id::fsap-id)) that should run as the application's user. This module
    uses the current EFS API, C(CreateAccessPoint) with C(Tags), C(TagResource),
    C(UntagResource) and C(ListTagsForResource), with retries on throttling.
  - An access point is found by its C(Name) tag (O(name)) among the access points of
    O(file_system_id), or by O(access_point_id).
  - The POSIX user and the root directory of an access point cannot be changed. When the existing
    access point differs from the request, the module fails and says how, rather than replacing
    it (a replacement has a new id, so every volume that refers to the old one would break).
author:
  - mlops.eks_platform maintainers (@mlops)
options:
  file_system_id:
    description:
      - Id of the file system. Required unless O(access_point_id) is given.
    type: str
  name:
    description:
      - Name of the access point, stored as its C(Name) tag. Required unless O(access_point_id) is given.
    type: str
  access_point_id:
    description:
      - Id of an existing access point, to manage it (tags, deletion) without looking it up by name.
    type: str
  state:
    description: V(present) creates the access point or updates its tags, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  posix_user:
    description:
      - The POSIX identity that every file system request made through the access point uses.
      - Required to create an access point.
    type: dict
    suboptions:
      uid:
        description: User id.
        type: int
        required: true
      gid:
        description: Group id.
        type: int
        required: true
      secondary_gids:
        description: Secondary group ids.
        type: list
        elements: int
  root_directory:
    description:
      - The directory of the file system that clients of the access point see as C(/).
    type: dict
    suboptions:
      path:
        description: Absolute path of the directory.
        type: str
        default: /
      creation_info:
        description:
          - Owner and permissions EFS gives the directory when it creates it on first use. Without
            it, the directory must already exist.
        type: dict
        suboptions:
          owner_uid:
            description: Owner user id.
            type: int
            required: true
          owner_gid:
            description: Owner group id.
            type: int
            required: true
          permissions:
            description: POSIX permissions in octal, for example V('0755').
            type: str
            required: true
  wait:
    description: Whether to wait until the access point is available, or gone with O(state=absent).
    type: bool
    default: true
  wait_timeout:
    description: How long to wait, in seconds.
    type: int
    default: 300
  wait_interval:
    description:
      - Seconds between two status polls while waiting.
    type: int
    default: 5
extends_documentation_fragment:
  - mlops.eks_platform.attributes
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
seealso:
  - module: mlops.eks_platform.efs_file_system
"""

EXAMPLES = r"""
- name: The access point the Airflow pods mount DAGs through (Airflow's image runs as 50000:0)
  mlops.eks_platform.efs_access_point:
    file_system_id: "{{ dags_fs.file_system.file_system_id }}"
    name: mlops-dags
    posix_user:
      uid: 50000
      gid: 0
    root_directory:
      path: /airflow/dags
      creation_info:
        owner_uid: 50000
        owner_gid: 0
        permissions: "0755"
    tags:
      Environment: production
  register: dags_ap

- name: Remove it
  mlops.eks_platform.efs_access_point:
    file_system_id: "{{ dags_fs.file_system.file_system_id }}"
    name: mlops-dags
    state: absent
"""

RETURN = r"""
access_point:
  description: The access point after the task; an empty dictionary when it does not exist (or, in check mode, not yet).
  returned: always
  type: dict
  contains:
    access_point_id:
      description: Id of the access point.
      type: str
      sample: fsap-0123456789abcdef0
    access_point_arn:
      description: ARN of the access point.
      type: str
      sample: arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0
    file_system_id:
      description: Its file system.
      type: str
      sample: fs-0123456789abcdef0
    name:
      description: Its C(Name) tag.
      type: str
      sample: mlops-dags
    life_cycle_state:
      description: Its state.
      type: str
      sample: available
    posix_user:
      description: The enforced POSIX identity (C(uid), C(gid), C(secondary_gids)).
      type: dict
      sample: {uid: 50000, gid: 0, secondary_gids: []}
    root_directory:
      description: The root directory (C(path), and C(creation_info) with C(owner_uid), C(owner_gid), C(permissions)).
      type: dict
      sample: {path: /airflow/dags, creation_info: {owner_uid: 50000, owner_gid: 0, permissions: "0755"}}
    tags:
      description: Its tags.
      type: dict
      sample: {Name: mlops-dags}
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.api import EfsClient
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import EfsError
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import access_point_differences
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import describe_access_point
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import file_system_tags
from ansible_collections.mlops.eks_platform.plugins.module_utils.efs.resources import normalize_permissions


def find(module, efs):
    params = module.params
    if params["access_point_id"]:
        points = efs.access_points(access_point_id=params["access_point_id"])
        return points[0] if points else None
    matches = [p for p in efs.access_points(file_system_id=params["file_system_id"]) if p.get("Name") == params["name"]
               or {t["Key"]: t["Value"] for t in p.get("Tags") or []}.get("Name") == params["name"]]
    if len(matches) > 1:
        module.fail_json(msg="%d access points of %s are named %s; name them uniquely or give access_point_id (%s)"
                             % (len(matches), params["file_system_id"], params["name"],
                                ", ".join(p["AccessPointId"] for p in matches)))
    return matches[0] if matches else None


def create_params(module):
    params = module.params
    request = {
        "FileSystemId": params["file_system_id"],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(file_system_tags(params["name"], params["tags"]).items())],
    }
    posix = params["posix_user"]
    request["PosixUser"] = {"Uid": posix["uid"], "Gid": posix["gid"]}
    if posix.get("secondary_gids"):
        request["PosixUser"]["SecondaryGids"] = posix["secondary_gids"]
    root = params["root_directory"]
    if root:
        request["RootDirectory"] = {"Path": root.get("path") or "/"}
        info = root.get("creation_info")
        if info:
            request["RootDirectory"]["CreationInfo"] = {
                "OwnerUid": info["owner_uid"],
                "OwnerGid": info["owner_gid"],
                "Permissions": normalize_permissions(info["permissions"]),
            }
    return request


def main():
    argument_spec = dict(
        file_system_id=dict(type="str"),
        name=dict(type="str"),
        access_point_id=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        posix_user=dict(type="dict", options=dict(
            uid=dict(type="int", required=True),
            gid=dict(type="int", required=True),
            secondary_gids=dict(type="list", elements="int"),
        )),
        root_directory=dict(type="dict", options=dict(
            path=dict(type="str", default="/"),
            creation_info=dict(type="dict", options=dict(
                owner_uid=dict(type="int", required=True),
                owner_gid=dict(type="int", required=True),
                permissions=dict(type="str", required=True),
            )),
        )),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        wait_interval=dict(type="int", default=5),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("access_point_id", "file_system_id")],
        required_by={"file_system_id": "name"},
    )
    params = module.params
    efs = EfsClient(module, poll_delay=module.params["wait_interval"])
    try:
        point = find(module, efs)
        if params["state"] == "absent":
            if point is None:
                module.exit_json(changed=False, access_point={})
            if not module.check_mode:
                efs.delete_access_point(point["AccessPointId"])
                if params["wait"]:
                    efs.wait_access_point(point["AccessPointId"], params["wait_timeout"], gone=True)
            module.exit_json(changed=True, access_point={})

        if point is None:
            if params["access_point_id"]:
                module.fail_json(msg="access point %s does not exist" % params["access_point_id"])
            if not params["posix_user"]:
                module.fail_json(msg="posix_user is required to create access point %s" % params["name"])
            if module.check_mode:
                module.exit_json(changed=True, access_point={})
            created = efs.create_access_point(create_params(module))
            if params["wait"]:
                efs.wait_access_point(created["AccessPointId"], params["wait_timeout"])
            point = efs.access_points(access_point_id=created["AccessPointId"])[0]
            module.exit_json(changed=True, access_point=describe_access_point(point, efs.list_tags(point["AccessPointId"])))

        problems = access_point_differences(point, params["posix_user"], params["root_directory"])
        if problems:
            module.fail_json(msg="Access point %s (%s) cannot be changed: %s. Access points are immutable and volumes refer "
                                 "to them by id; delete it (state=absent) and create it again if that is really intended."
                                 % (point["AccessPointId"], params["name"] or point.get("Name"), "; ".join(problems)))
        name = params["name"] or point.get("Name")
        current_tags = efs.list_tags(point["AccessPointId"])
        desired_tags = file_system_tags(name, params["tags"]) if name else dict(params["tags"] or {})
        purge = params["purge_tags"] if params["tags"] is not None else False
        changed = efs.ensure_tags(point["AccessPointId"], current_tags, desired_tags, purge)
        tags = efs.list_tags(point["AccessPointId"]) if changed and not module.check_mode else current_tags
        module.exit_json(changed=changed, access_point=describe_access_point(point, tags))
    except EfsError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
