"""Recovery: every saga execution that fails, times out or is aborted is made right.

Step Functions puts a "Step Functions Execution Status Change" event on the account's default
bus when a Standard execution ends ("EventBridge (CloudWatch Events) for Step Functions
execution status changes", AWS Step Functions Developer Guide; its error-handling chapter
suggests exactly this for executions that end badly). A rule for this state machine's FAILED,
TIMED_OUT and ABORTED executions invokes the recovery function, which reads the order, Opayo
and Amazon, and gives the money back or keeps it for goods that ship
(opayo_fba.saga.recovery). A delivery that keeps failing is retried by EventBridge and then
lands in the recovery dead-letter queue (alarmed, like every DLQ).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constants import ENV_SECURITY_KEYS_KEY_ARN, SAGA_RECOVERY, SERVICE_NAME
from infra.platform import Platform

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
ENDED_BADLY = ["FAILED", "TIMED_OUT", "ABORTED"]
RECOVERY_RETRY_ATTEMPTS = 8
RECOVERY_MAX_EVENT_AGE = Duration.hours(24)


class SagaRecovery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: Platform,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = self._build_function(platform)
        self.dlq = sqs.Queue(
            self,
            "RecoveryDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=platform.keys.data,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # A fixed name lets the key policy below name the rule without referring to it (the
        # key, the tables, the saga's functions and the rule would otherwise form a cycle).
        rule_name = f"{SERVICE_NAME}-{platform.config.name}-saga-recovery"
        self.rule = events.Rule(
            self,
            "ExecutionEndedBadly",
            rule_name=rule_name,
            description="Saga executions that failed, timed out or were aborted",
            # No event_bus: AWS services' events arrive on the account's default bus.
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[EXECUTION_STATUS_CHANGE],
                detail={
                    "status": ENDED_BADLY,
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dlq,
                    retry_attempts=RECOVERY_RETRY_ATTEMPTS,
                    max_event_age=RECOVERY_MAX_EVENT_AGE,
                )
            ],
        )
        # EventBridge writes to the KMS-encrypted DLQ only if the key lets it, for this rule.
        platform.keys.data.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSagaRecoveryRuleDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={
                    "ArnEquals": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="events", resource="rule", resource_name=rule_name
                        )
                    }
                },
            )
        )

    def _build_function(self, platform: Platform) -> lambda_.Function:
        """Its own role: the orders table, the bus, and both providers' secrets (it may
        cancel at Amazon and abort, capture or refund at Opayo), and the SecurityKeys key to
        decrypt only (a Server payment is settled through the Shared Protocol, which quotes
        it); nothing else."""
        security_keys = platform.keys.server_security_keys
        function = platform.function(
            self,
            SAGA_RECOVERY,
            orders="write",
            events_bus=True,
            seller_secrets=True,
            connector_state=True,
            vendor_secrets=True,
            extra_environment={ENV_SECURITY_KEYS_KEY_ARN: security_keys.key_arn},
        )
        security_keys.grant_decrypt(function)
        return function
