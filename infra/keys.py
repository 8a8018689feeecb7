"""Customer managed KMS keys shared by several capabilities.

Each key has automatic yearly rotation. Keys that one capability alone uses (the secrets key,
the SP-API notifications queue key) live in that capability's construct instead.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class EncryptionKeys(Construct):
    """`data`: tables, bucket, internal queues, topics. `logs`: every CloudWatch log group.
    `server_security_keys`: field-level encryption of Opayo Server SecurityKeys, which the
    order intake may only encrypt, and only the webhook and the saga's capture, abort and
    refund steps (the Shared Protocol quotes the key) may decrypt."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.data = _build_key(self, "DataKey", "opayo-fba data at rest (tables, bucket, queues)")
        self.logs = _build_key(self, "LogsKey", "opayo-fba CloudWatch Logs")
        self.server_security_keys = _build_key(
            self, "ServerSecurityKeysKey", "opayo-fba Opayo Server SecurityKeys (field level)"
        )
        _allow_cloudwatch_logs(self.logs)


def _build_key(scope: Construct, construct_id: str, description: str) -> kms.Key:
    return kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )


def _allow_cloudwatch_logs(key: kms.Key) -> None:
    """CloudWatch Logs encrypts with the key only for this account's log groups."""
    stack = Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
                    )
                }
            },
        )
    )
