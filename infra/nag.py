"""cdk-nag acknowledgements: every finding we accept, where it applies, and why.

Each entry is a rule as cdk-nag prints it (`<pack>::<rule>[<finding>]`; `{placeholders}`
stand for logical ids resolved from the stack), the constructs it is acknowledged on, and the
reason a security reviewer can check against the code. Any finding not listed here stops the
synthesis. docs/deploy.md renders the same table for humans; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

from infra.constants import FIXED_EGRESS_FUNCTIONS, SAGA_FUNCTIONS, SCHEDULED_FUNCTIONS

if TYPE_CHECKING:
    from infra.stack import OpayoFbaStack

Targets = Callable[["OpayoFbaStack"], Iterable[IConstruct]]


@dataclass(frozen=True)
class Finding:
    rule: str
    applies_to: str
    reason: str
    targets: Targets


def _stack(stack: OpayoFbaStack) -> Iterable[IConstruct]:
    return [stack]


def _functions(stack: OpayoFbaStack) -> Iterable[IConstruct]:
    return list(stack.platform.factory.functions.values())


def _functions_outside_the_vpc(stack: OpayoFbaStack) -> Iterable[IConstruct]:
    inside = {spec.module for spec in FIXED_EGRESS_FUNCTIONS}
    functions = stack.platform.factory.functions
    return [function for module, function in functions.items() if module not in inside]


def _xray_roles(stack: OpayoFbaStack) -> Iterable[IConstruct]:
    """The roles of traced functions and of the traced, logging state machine."""
    roles = [fn.role for fn in stack.platform.factory.functions.values() if fn.role is not None]
    return [*roles, stack.saga.state_machine.role]


def _dead_letter_queues(stack: OpayoFbaStack) -> Iterable[IConstruct]:
    return [
        stack.queues.payment_events_dlq,
        stack.queues.amazon_notifications_dlq,
        stack.schedules.dlq,
        stack.recovery.dlq,
    ]


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC",
        "every function but the Shared Protocol callers",
        "These functions call only public HTTPS APIs (Amazon SP-API, Opayo Pi and Reporting) "
        "and AWS service endpoints over TLS and reach no private resource. They handle no "
        "cardholder data: card details go from the shopper's browser straight to Opayo and "
        "only tokens reach us (SAQ A scope). Only the functions that must post from Opayo's "
        "registered IP run in the VPC (infra/egress.py); a VPC for the rest would add ENI "
        "cold starts and NAT traffic without isolating anything.",
        _functions_outside_the_vpc,
    ),
    Finding(
        "PCI.DSS.321::PCI.DSS.321-VPCNoUnrestrictedRouteToIGW",
        "the egress VPC's NAT subnets",
        "The public subnets hold only the NAT (fck-nat instance or NAT Gateway) that gives "
        "the Shared Protocol callers their fixed Elastic IP; a NAT needs the default route to "
        "the internet gateway. The functions sit in private subnets whose only route out is "
        "that NAT, and the NAT accepts only HTTPS from the VPC.",
        lambda s: list(s.egress.vpc.public_subnets),
    ),
    Finding(
        "PCI.DSS.321::PCI.DSS.321-VPCDefaultSecurityGroupClosed",
        "the egress VPC",
        "Nothing is attached to the VPC's default security group: the Shared Protocol callers "
        "and the NAT instance each have their own group (HTTPS only). Emptying the default "
        "group takes a CDK custom-resource Lambda (Node.js), which would be the only function "
        "outside our build, least-privilege roles and tests.",
        lambda s: [s.egress.vpc],
    ),
    Finding(
        "AwsSolutions::AwsSolutions-AS3",
        "the fck-nat instance's Auto Scaling group",
        "The group only keeps the one NAT instance alive (min = max = 1) and replaces it when "
        "it fails; its group metrics are on, and a NAT outage shows as failing payment steps, "
        "which the saga's retries and failure alarms already report to the alert topic.",
        lambda s: s.egress.nat_instance_constructs,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-EC26",
        "the fck-nat instance's Auto Scaling group",
        "The root volume is encrypted: infra/egress.py sets BlockDeviceMappings (/dev/xvda, "
        "Encrypted true) on cdk-fck-nat's launch template as a property override, which "
        "cdk-nag does not read (tests/infra check the synthesized template). The volume holds "
        "only the fck-nat operating system; no data is written to it.",
        lambda s: s.egress.nat_instance_constructs,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "the fck-nat instance's role",
        "cdk-fck-nat's instance role: at boot the NAT instance attaches its pre-created "
        "network interface (ec2:AttachNetworkInterface, ModifyNetworkInterfaceAttribute) and "
        "moves the Elastic IP onto itself (ec2:AssociateAddress, DisassociateAddress). The "
        "construct writes Resource '*'; infra/egress.py overrides it to this Elastic IP and "
        "this account's instances and interfaces in the region (the instance id is known only "
        "at launch). Only EC2 can assume the role; it holds no other permission.",
        lambda s: [s.egress.nat_role] if s.egress.nat_role is not None else [],
    ),
    Finding(
        "Serverless::Serverless-LambdaDLQ",
        "every function",
        "Only EventBridge Scheduler invokes functions asynchronously, and its targets have "
        "their own retry policy and alarmed dead-letter queue. SQS consumers rely on the "
        "source queue's redrive DLQ; API Gateway and Step Functions invoke synchronously and "
        "handle errors themselves (HTTP 5xx, saga Retry/Catch).",
        _functions,
    ),
    Finding(
        "Serverless::Serverless-LambdaEventSourceMappingDestination",
        "payment_events and amazon_notifications",
        "On-failure destinations exist only for stream sources; for SQS the failed records go "
        "to the queue's redrive dead-letter queue (maxReceiveCount from config), alarmed.",
        lambda s: [s.queues.payment_events_consumer, s.queues.amazon_notifications_consumer],
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
        "function roles and the saga's role",
        "Only X-Ray (PutTraceSegments, PutTelemetryRecords) and the CloudWatch Logs vended "
        "log delivery actions Step Functions needs carry Resource '*': AWS offers no "
        "resource-level permission for them. Every other statement names its resource.",
        _xray_roles,
    ),
    Finding(
        "PCI.DSS.321::PCI.DSS.321-IAMNoInlinePolicy",
        "every role",
        "Each function has its own role, and its permissions come from grant_* as one policy "
        "attached to that role alone: no permission can leak to another principal through a "
        "shared managed policy.",
        _stack,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "roles that use a customer managed key",
        "Added by grant_* on a KMS-encrypted table, queue, bucket or secret; each statement "
        "names one key ARN, and the wildcard only covers GenerateDataKey's variants.",
        _stack,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        "roles that use a customer managed key",
        "Added by grant_* on a KMS-encrypted resource; each statement names one key ARN, and "
        "the wildcard only covers ReEncryptFrom/ReEncryptTo.",
        _stack,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM5[Resource::<{orders_table}.Arn>/index/*]",
        "functions that read or write the orders table",
        "Look-ups by vendorTxCode use the orders table's global secondary index; the wildcard "
        "covers that one table's indexes only.",
        _stack,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM5[Resource::<{reports_bucket}.Arn>/*]",
        "report_poller and opayo_batch_fetch",
        "They put and get report documents and the journals derived from them under keys "
        "chosen at run time, one per report or run; only s3:PutObject and s3:GetObject are "
        "allowed on objects, never delete.",
        _stack,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM5[Resource::<{function}.Arn>:*]",
        "the saga's role and the schedules' roles, per function they invoke",
        "lambda:InvokeFunction on one function's ARN and its versions/aliases (':*'); no "
        "other function is covered.",
        _stack,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
        "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "the API Gateway account's CloudWatch role",
        "API Gateway's account-level logging role; AWS maintains this managed policy for "
        "exactly this purpose and it grants only CloudWatch Logs writes.",
        lambda s: [s.api.api],
    ),
    Finding(
        "AwsSolutions::AwsSolutions-APIG4",
        "POST /webhooks/opayo/{vendor}",
        "Opayo's Server notifications cannot carry AWS or token credentials. Every "
        "notification is authenticated by its VPSSignature (MD5 over the fields and the "
        "per-transaction SecurityKey only we and Opayo know), checked before any state "
        "changes; WAF rate-limits the route.",
        lambda s: [s.api.webhook_method],
    ),
    Finding(
        "AwsSolutions::AwsSolutions-COG4",
        "every API method",
        "No end users: /orders uses AWS IAM (SigV4) authorization for the merchant's shop or "
        "ERP role, and the webhook authenticates by Opayo's signature (see APIG4).",
        lambda s: [s.api.api],
    ),
    Finding(
        "PCI.DSS.321::PCI.DSS.321-APIGWCacheEnabledAndEncrypted",
        "the API stage",
        "Caching is off: webhooks are POSTs and order reads must be fresh. Nothing is cached, "
        "so no cached data exists at rest.",
        lambda s: [s.api.api],
    ),
    Finding(
        "AwsSolutions::AwsSolutions-SMG4",
        "seller and vendor secrets",
        "They hold third-party credentials (Amazon LWA refresh token and client secret, Opayo "
        "integration key and reporting password) that only Amazon's and Opayo's portals can "
        "reissue; docs/deploy.md has the rotation runbook. The KMS key rotates yearly.",
        lambda s: [s.platform.secrets],
    ),
    Finding(
        "Serverless::Serverless-SQSRedrivePolicy",
        "the dead-letter queues",
        "They are the dead-letter queues: terminal by design, retained 14 days and alarmed on "
        "the first message.",
        _dead_letter_queues,
    ),
    Finding(
        "AwsSolutions::AwsSolutions-SQS3",
        "the schedules' and the saga recovery rule's dead-letter queues",
        "They are the dead-letter queues of the EventBridge Scheduler targets and of the "
        "recovery rule's target (SQS does not see them as DLQs because no queue redrives to "
        "them).",
        lambda s: [s.schedules.dlq, s.recovery.dlq],
    ),
    Finding(
        "Serverless::Serverless-SNSRedrivePolicy",
        "the alarm topic's e-mail subscription",
        "Alarm e-mail; a failed delivery shows in the topic's NumberOfNotificationsFailed "
        "metric and the alarm stays in ALARM on the dashboard.",
        lambda s: [s.monitoring.topic],
    ),
    Finding(
        "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
        "report archive and access-log buckets",
        "The archive holds copies of documents Amazon and Opayo keep and can reissue, and "
        "journals re-runnable from them; versioning and RETAIN protect against deletion. "
        "Cross-region replication is left to the merchant.",
        lambda s: [s.platform.storage.reports_bucket, s.platform.storage.access_logs_bucket],
    ),
    Finding(
        "PCI.DSS.321::PCI.DSS.321-S3DefaultEncryptionKMS",
        "the access-log bucket",
        "S3 server access logs can only be delivered to an SSE-S3 bucket; it holds request "
        "logs of the report archive, not report contents.",
        lambda s: [s.platform.storage.access_logs_bucket],
    ),
)


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    child = construct.node.default_child
    if not isinstance(child, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return stack.get_logical_id(child)


def resolve_rules(stack: OpayoFbaStack, finding: Finding) -> list[str]:
    """The concrete finding ids of one entry (placeholders replaced by logical ids)."""
    if "{function}" in finding.rule:
        invoked = [*SAGA_FUNCTIONS, *SCHEDULED_FUNCTIONS]
        functions = stack.platform.factory.functions
        return [
            finding.rule.replace("{function}", _logical_id(stack, functions[spec.module]))
            for spec in invoked
        ]
    storage = stack.platform.storage
    return [
        finding.rule.replace("{orders_table}", _logical_id(stack, storage.orders_table)).replace(
            "{reports_bucket}", _logical_id(stack, storage.reports_bucket)
        )
    ]


def acknowledge_findings(stack: OpayoFbaStack) -> None:
    for finding in FINDINGS:
        for rule in resolve_rules(stack, finding):
            for target in finding.targets(stack):
                Validations.of(target).acknowledge(Acknowledgment(id=rule, reason=finding.reason))
