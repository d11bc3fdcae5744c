"""The AWS account, region and partition the stack deploys to, as one Output for IAM builders."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import iam


def current_account(parent: pulumi.Resource) -> pulumi.Output[iam.Account]:
    options = pulumi.InvokeOutputOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=options)
    region = aws.get_region_output(opts=options)
    partition = aws.get_partition_output(opts=options)
    return pulumi.Output.all(partition.partition, region.region, identity.account_id).apply(
        lambda values: iam.Account(partition=values[0], region=values[1], account_id=values[2])
    )
