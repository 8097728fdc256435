"""EC2 ``DescribeTags`` resource types that moto 5.2 names differently from AWS.

Gap: moto reports (and filters on) ``resource-type`` ``nat-gateway`` for NAT gateways and
``vpc-elastic-ip`` for Elastic IP allocations. AWS documents and returns ``natgateway`` and
``elastic-ip`` (EC2 API reference, DescribeTags, filter ``resource-type``).

Effect without the patch: ``amazon.aws.ec2_vpc_nat_gateway`` reads a gateway's tags with
``DescribeTags`` filtered on ``resource-type=natgateway``, finds none, re-applies them and reports
``changed`` on every run, so any role that tags its NAT gateways is never idempotent against moto
although it is against AWS. The NAT gateway itself is found and not recreated; only the tag read
is wrong. The fix renames the two types in moto's id-prefix table, which only DescribeTags uses.
"""


def apply():
    from moto.ec2 import utils

    utils.EC2_PREFIX_TO_RESOURCE[utils.EC2_RESOURCE_TO_PREFIX["nat-gateway"]] = "natgateway"
    utils.EC2_PREFIX_TO_RESOURCE[utils.EC2_RESOURCE_TO_PREFIX["vpc-elastic-ip"]] = "elastic-ip"
