"""The order-to-fulfillment saga: a Step Functions Standard state machine built from constructs.

Happy path: validate and map -> create the FBA fulfillment order on Hold -> release (capture)
the Deferred Opayo payment -> update the fulfillment order to Ship -> poll its status until it
ships -> mark the order shipped and emit OrderShipped on the canonical bus.

Compensations (each ends by recording the outcome on the order and emitting
OrderCompensated; a compensation that itself keeps failing fails the execution, which alarms
and is then made right by the execution-failure handler, infra/recovery.py):
- payment declined               -> no fulfillment order is created
- validation failed otherwise     -> give the money back
- fulfillment order rejected      -> give the money back (Invalid / Unfulfillable at creation)
- creating it kept failing        -> cancel whatever Amazon holds, give the money back
- capture failed (or kept failing) -> cancel the fulfillment order, give the money back
- merchant cancelled before capture -> cancel the fulfillment order, give the money back
- release to Ship failed, unfulfillable or cancelled after capture -> cancel, give it back
- merchant cancelled after capture -> cancel the fulfillment order, give the money back

"Give the money back" and "cancel" are decided by what Opayo and Amazon say now, not by what
the saga believes: Opayo captured -> refund, authorised -> abort, nothing -> nothing; Amazon
holds a live fulfillment order -> cancel; Amazon already shipping -> the order goes on.
Every task retries timeouts (all steps are idempotent), and each task's timeout is longer than
its function can run, so a state never moves on while its function is still at work.

The execution state carries identifiers and statuses only (order id, vendorTxCode,
transaction id, seller fulfillment order id): no address and no card data, so logging the
execution data at level ALL is safe.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constants import (
    ENV_FULFILLMENT_POLICY,
    ENV_MAPPING_TEMPLATES,
    ENV_SECURITY_KEYS_KEY_ARN,
    ENV_UNFULFILLABLE_AUTHORISATIONS,
    ERROR_CANCELLATION_REFUSED,
    ERROR_CAPTURE_FAILED,
    ERROR_FULFILLMENT_REJECTED,
    ERROR_FULFILLMENT_UNDERWAY,
    ERROR_MERCHANT_CANCELLED,
    ERROR_PAYMENT_DECLINED,
    ERROR_THROTTLED,
    ERROR_UPSTREAM,
    EVENT_ORDER_COMPENSATED,
    EVENT_ORDER_SHIPPED,
    EVENT_SOURCE,
    SAGA_ABORT_PAYMENT,
    SAGA_AWAIT_FULFILLMENT,
    SAGA_CANCEL_FULFILLMENT_ORDER,
    SAGA_CAPTURE_PAYMENT,
    SAGA_CHECK_FULFILLMENT_STATUS,
    SAGA_CREATE_FULFILLMENT_ORDER,
    SAGA_MARK_SHIPPED,
    SAGA_RECORD_OUTCOME,
    SAGA_REFUND_PAYMENT,
    SAGA_REFUND_UNSHIPPED,
    SAGA_RELEASE_FULFILLMENT_ORDER,
    SAGA_VALIDATE_AND_MAP,
    SERVICE_NAME,
    FunctionSpec,
)
from infra.functions import log_retention
from infra.platform import Platform
from opayo_fba.model.events import EVENT_VERSION

# Errors worth retrying: our connectors' transient failures and Lambda's own.
TRANSIENT_ERRORS = [
    ERROR_UPSTREAM,
    ERROR_THROTTLED,
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# "The task did not answer in time": the state's own timeout, or its function stopped at its
# Lambda timeout, which Step Functions reports as Lambda.Unknown (or Sandbox.Timedout) ("Handle
# Lambda service exceptions", AWS Step Functions Developer Guide). Every step is idempotent
# (opayo_fba.saga.steps: each looks at what is done, at Opayo and Amazon, before acting), so
# each retries these like a transient error; what still fails is caught.
TIMEOUT_ERRORS = ["States.Timeout", "Sandbox.Timedout", "Lambda.Unknown"]
STEP_MAX_ATTEMPTS = 6
# A compensation must eventually happen: it retries longer than a forward step.
COMPENSATION_MAX_ATTEMPTS = 10
SAGA_TIMEOUT = Duration.days(30)  # an Opayo Deferred payment expires after 30 days
FULFILLMENT_DONE = ("Complete", "CompletePartialled")
FULFILLMENT_LOST = ("Unfulfillable", "Cancelled", "Invalid")
MERCHANT_CANCELLED_STATUS = "MerchantCancelled"
ERROR_RESULT_PATH = "$.error"


class Saga(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, platform: Platform) -> None:
        super().__init__(scope, construct_id)
        config = platform.config
        self.functions = self._build_functions(platform)
        self._bus = platform.events.bus
        self._poll_interval = Duration.seconds(config.fulfillment_status_poll_seconds)
        self.log_group = logs.LogGroup(
            self,
            "SagaLogs",
            # The vendedlogs prefix keeps CloudWatch Logs' resource policy small.
            log_group_name=f"/aws/vendedlogs/states/{SERVICE_NAME}-{config.name}-saga",
            encryption_key=platform.keys.logs,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        # A fixed name lets the await step's role name the state machine without referring to
        # it, which would make the function and the state machine depend on each other.
        name = f"{SERVICE_NAME}-{config.name}-order-saga"
        self.state_machine = sfn.StateMachine(
            self,
            "OrderFulfillmentSaga",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._build_definition()),
            timeout=SAGA_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
            comment="Order to fulfillment saga with compensations",
        )
        # The await step completes its own task when the status is already known.
        self.functions[SAGA_AWAIT_FULFILLMENT.module].add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                resources=[
                    Stack.of(self).format_arn(
                        service="states",
                        resource="stateMachine",
                        resource_name=name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )

    # ---- the step functions ---------------------------------------------------------------

    def _build_functions(self, platform: Platform) -> dict[str, lambda_.Function]:
        """Each step gets its own function and role: payment steps never see Amazon secrets.

        Every step may publish to the canonical bus: the domain emits OrderStatusChanged,
        PaymentCaptured, RefundIssued ... as it records each change (opayo_fba.saga.steps).
        """
        common: dict[str, Any] = {"orders": "write", "events_bus": True}
        amazon: dict[str, Any] = {**common, "seller_secrets": True, "connector_state": True}
        opayo: dict[str, Any] = {**common, "vendor_secrets": True}
        # A Server payment is released, aborted or refunded through the Shared Protocol,
        # which quotes its SecurityKey: these three steps may open it (and no other step).
        security_keys = platform.keys.server_security_keys
        server_payment: dict[str, Any] = {
            **opayo,
            "extra_environment": {ENV_SECURITY_KEYS_KEY_ARN: security_keys.key_arn},
        }
        built: dict[FunctionSpec, dict[str, Any]] = {
            SAGA_VALIDATE_AND_MAP: opayo,
            SAGA_CREATE_FULFILLMENT_ORDER: amazon,
            SAGA_CAPTURE_PAYMENT: server_payment,
            SAGA_RELEASE_FULFILLMENT_ORDER: amazon,
            SAGA_CHECK_FULFILLMENT_STATUS: amazon,
            # Keeps the task token; resumes its own task when the status is already known.
            SAGA_AWAIT_FULFILLMENT: common,
            # Reads the fulfillment order's shipments and tracking from Amazon.
            SAGA_MARK_SHIPPED: amazon,
            SAGA_REFUND_UNSHIPPED: server_payment,
            # Under `unfulfillableAuthorisations: hold` it keeps the Deferred of an order
            # Amazon could not fulfil, for a resubmission.
            SAGA_ABORT_PAYMENT: {
                **server_payment,
                "extra_environment": {
                    **server_payment["extra_environment"],
                    ENV_UNFULFILLABLE_AUTHORISATIONS: platform.config.unfulfillable_authorisations,
                },
            },
            SAGA_CANCEL_FULFILLMENT_ORDER: amazon,
            SAGA_REFUND_PAYMENT: server_payment,
            SAGA_RECORD_OUTCOME: common,
        }
        templates = platform.config.mapping_templates
        mapping_environment: dict[str, str] = {
            ENV_FULFILLMENT_POLICY: platform.config.fulfillment_policy
        }
        if templates:
            mapping_environment[ENV_MAPPING_TEMPLATES] = ",".join(templates)
        built[SAGA_VALIDATE_AND_MAP] = {**opayo, "extra_environment": mapping_environment}
        functions = {
            spec.module: platform.function(self, spec, **access) for spec, access in built.items()
        }
        _grant_template_reads(functions[SAGA_VALIDATE_AND_MAP.module], templates)
        for spec in (
            SAGA_CAPTURE_PAYMENT,
            SAGA_ABORT_PAYMENT,
            SAGA_REFUND_PAYMENT,
            SAGA_REFUND_UNSHIPPED,
        ):
            security_keys.grant_decrypt(functions[spec.module])
        return functions

    # ---- the definition -------------------------------------------------------------------

    def _build_definition(self) -> sfn.IChainable:
        validate = self._step("ValidateAndMap", SAGA_VALIDATE_AND_MAP)
        create_on_hold = self._step("CreateFulfillmentOrderOnHold", SAGA_CREATE_FULFILLMENT_ORDER)
        capture = self._step("CapturePayment", SAGA_CAPTURE_PAYMENT)
        release_to_ship = self._step(
            "ReleaseFulfillmentOrderToShip", SAGA_RELEASE_FULFILLMENT_ORDER
        )
        wait_for_shipment = self._build_wait_for_shipment()

        validate.add_catch(
            self._compensate("PaymentDeclined", [], "payment_declined"),
            errors=[ERROR_PAYMENT_DECLINED],
            result_path=ERROR_RESULT_PATH,
        )
        # Anything else that stops validation (after its retries): nothing went to Amazon,
        # and the customer's money is given back.
        validate.add_catch(
            self._compensate(
                "ValidationFailed", [("AbortPayment", SAGA_ABORT_PAYMENT)], "validation_failed"
            ),
            errors=["States.ALL"],
            result_path=ERROR_RESULT_PATH,
        )
        create_on_hold.add_catch(
            self._compensate(
                "FulfillmentRejected",
                [("AbortPayment", SAGA_ABORT_PAYMENT)],
                "fulfillment_rejected",
            ),
            errors=[ERROR_FULFILLMENT_REJECTED],
            result_path=ERROR_RESULT_PATH,
        )
        # The create kept failing or timing out, and may still have landed: whatever Amazon
        # holds is cancelled, then the money is given back.
        create_on_hold.add_catch(
            self._compensate(
                "FulfillmentOrderFailed",
                [
                    ("CancelFulfillmentOrder", SAGA_CANCEL_FULFILLMENT_ORDER),
                    ("AbortPayment", SAGA_ABORT_PAYMENT),
                ],
                "fulfillment_failed",
            ),
            errors=["States.ALL"],
            result_path=ERROR_RESULT_PATH,
        )
        capture.add_catch(
            self._compensate(
                "MerchantCancelledBeforeCapture",
                [
                    ("CancelFulfillmentOrder", SAGA_CANCEL_FULFILLMENT_ORDER),
                    ("AbortPayment", SAGA_ABORT_PAYMENT),
                ],
                "merchant_cancelled",
                cancellation_refused=capture,
            ),
            errors=[ERROR_MERCHANT_CANCELLED],
            result_path=ERROR_RESULT_PATH,
        )
        # Opayo refused the release, or it kept failing or timing out: nothing may ship, and
        # the payment compensation asks Opayo what happened (a release that landed after all
        # is refunded, an authorisation still held is aborted).
        capture_failed = self._compensate(
            "CaptureFailed",
            [
                ("CancelFulfillmentOrder", SAGA_CANCEL_FULFILLMENT_ORDER),
                ("AbortPayment", SAGA_ABORT_PAYMENT),
            ],
            "capture_failed",
        )
        capture.add_catch(
            capture_failed, errors=[ERROR_CAPTURE_FAILED], result_path=ERROR_RESULT_PATH
        )
        capture.add_catch(capture_failed, errors=["States.ALL"], result_path=ERROR_RESULT_PATH)
        # The release to Ship may have landed: if Amazon is already shipping, the order goes
        # on (back to waiting for it) instead of being refunded.
        release_to_ship.add_catch(
            self._compensate(
                "ReleaseFailed",
                [
                    ("CancelFulfillmentOrder", SAGA_CANCEL_FULFILLMENT_ORDER),
                    ("RefundPayment", SAGA_REFUND_PAYMENT),
                ],
                "release_failed",
                goods_underway=self._await_update,
            ),
            errors=["States.ALL"],
            result_path=ERROR_RESULT_PATH,
        )

        return (
            validate.next(create_on_hold)
            .next(capture)
            .next(release_to_ship)
            .next(wait_for_shipment)
        )

    def _build_wait_for_shipment(self) -> sfn.IChainable:
        """Wait for Amazon's next word, then decide; loop until the order ships or is lost.

        The wait is a task token left on the order: the SP-API notification consumer (or the
        merchant's cancellation) resumes the saga with the new status the moment it knows it.
        If nothing arrives within the poll interval, the saga asks Amazon itself.
        """
        await_update = tasks.LambdaInvoke(
            self,
            "AwaitFulfillmentUpdate",
            lambda_function=self.functions[SAGA_AWAIT_FULFILLMENT.module],
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "orderId": sfn.JsonPath.string_at("$.orderId"),
                    "taskToken": sfn.JsonPath.task_token,
                }
            ),
            retry_on_service_exceptions=False,
            result_path="$.fulfillment",
            task_timeout=sfn.Timeout.duration(self._poll_interval),
        )
        self._await_update = await_update
        await_update.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=Duration.seconds(2),
            backoff_rate=2.0,
            max_attempts=STEP_MAX_ATTEMPTS,
            max_delay=Duration.minutes(5),
            jitter_strategy=sfn.JitterType.FULL,
        )
        check = self._step(
            "CheckFulfillmentStatus", SAGA_CHECK_FULFILLMENT_STATUS, result_path="$.fulfillment"
        )
        status = "$.fulfillment.status"
        emit_shipped = self._emit(
            "EmitOrderShipped",
            EVENT_ORDER_SHIPPED,
            "shipped",
            {
                "shipments": sfn.JsonPath.list_at("$.shipments"),
                "trackingNumbers": sfn.JsonPath.list_at("$.trackingNumbers"),
            },
        )
        # Units Amazon did not ship are refunded; if Opayo cannot be asked now, the refund
        # stays written down and the hourly check carries it out: the order has shipped.
        refund_unshipped = self._step(
            "RefundUnshipped", SAGA_REFUND_UNSHIPPED, result_path="$.unshippedRefund"
        )
        refund_unshipped.add_catch(
            emit_shipped, errors=["States.ALL"], result_path="$.unshippedRefundError"
        )
        shipped = (
            self._step("MarkShipped", SAGA_MARK_SHIPPED)
            .next(refund_unshipped)
            .next(emit_shipped)
            .next(sfn.Succeed(self, "Shipped"))
        )
        decide = (
            sfn.Choice(self, "FulfillmentStatus?")
            .when(_status_in(status, FULFILLMENT_DONE), shipped)
            .when(
                sfn.Condition.string_equals(status, MERCHANT_CANCELLED_STATUS),
                self._compensate(
                    "MerchantCancelledAfterCapture",
                    [
                        ("CancelFulfillmentOrder", SAGA_CANCEL_FULFILLMENT_ORDER),
                        ("RefundPayment", SAGA_REFUND_PAYMENT),
                    ],
                    "merchant_cancelled",
                    goods_underway=await_update,
                    cancellation_refused=await_update,
                ),
            )
            .when(
                _status_in(status, FULFILLMENT_LOST),
                self._compensate(
                    "FulfillmentLostAfterCapture",
                    [("RefundPayment", SAGA_REFUND_PAYMENT)],
                    "fulfillment_lost",
                ),
            )
            .otherwise(await_update)
        )
        # No word within the poll interval (or the wait itself failed): ask Amazon instead.
        await_update.add_catch(check, errors=["States.Timeout"], result_path=sfn.JsonPath.DISCARD)
        await_update.add_catch(check, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
        # Amazon kept failing to answer: nothing is decided by a failed read; wait again.
        check.add_catch(await_update, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
        check.next(decide)
        return await_update.next(decide)

    # ---- small builders -------------------------------------------------------------------

    def _step(
        self,
        state_id: str,
        spec: FunctionSpec,
        *,
        result_path: str = "$",
        max_attempts: int = STEP_MAX_ATTEMPTS,
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            state_id,
            lambda_function=self.functions[spec.module],
            payload_response_only=True,
            # Our own Retry below replaces the default one, to add jitter and a cap.
            retry_on_service_exceptions=False,
            result_path=result_path,
            # Longer than the function can run, so the state never moves on while it works.
            task_timeout=sfn.Timeout.duration(Duration.seconds(spec.state_timeout_seconds)),
        )
        task.add_retry(
            errors=[*TRANSIENT_ERRORS, *TIMEOUT_ERRORS],
            interval=Duration.seconds(2),
            backoff_rate=2.0,
            max_attempts=max_attempts,
            max_delay=Duration.minutes(5),
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task

    def _compensate(
        self,
        branch: str,
        steps: list[tuple[str, FunctionSpec]],
        outcome: str,
        *,
        goods_underway: sfn.IChainable | None = None,
        cancellation_refused: sfn.IChainable | None = None,
    ) -> sfn.IChainable:
        """Compensation steps, then record the outcome and tell the ERP; failure is terminal.

        Each step is retried, timeouts included (a compensation is idempotent: it reads the
        provider's state before acting), before the branch gives up into CompensationFailed.
        With `goods_underway`, a fulfillment order Amazon is already shipping sends the saga
        there (the order goes on) instead of to the failure. `cancellation_refused`: where
        the saga goes on when Amazon refuses the merchant's cancel (the order ships; the step
        already marked the request refused and told the shop).
        """
        failed = sfn.Fail(
            self,
            f"{branch}CompensationFailed",
            error="CompensationFailed",
            cause=f"compensation {branch} did not complete; the order needs an operator",
        )
        record = self._step(
            f"{branch}RecordOutcome",
            SAGA_RECORD_OUTCOME,
            result_path="$.outcome",
            max_attempts=COMPENSATION_MAX_ATTEMPTS,
        )
        tasks_in_order = [
            self._step(
                f"{branch}{name}",
                spec,
                result_path=f"$.compensation.{name}",
                max_attempts=COMPENSATION_MAX_ATTEMPTS,
            )
            for name, spec in steps
        ]
        for (_, spec), task in zip(steps, tasks_in_order, strict=True):
            if spec != SAGA_CANCEL_FULFILLMENT_ORDER:
                continue
            if goods_underway is not None:
                task.add_catch(
                    goods_underway,
                    errors=[ERROR_FULFILLMENT_UNDERWAY],
                    result_path=ERROR_RESULT_PATH,
                )
            if cancellation_refused is not None:
                task.add_catch(
                    cancellation_refused,
                    errors=[ERROR_CANCELLATION_REFUSED],
                    result_path=ERROR_RESULT_PATH,
                )
        for task in [*tasks_in_order, record]:
            task.add_catch(failed, errors=["States.ALL"], result_path=ERROR_RESULT_PATH)
        start = sfn.Pass(
            self,
            f"{branch}Compensate",
            parameters={"outcome": outcome},
            result_path="$.compensationReason",
        )
        chain = sfn.Chain.start(start)
        for task in tasks_in_order:
            chain = chain.next(task)
        return (
            chain.next(record)
            .next(self._emit(f"{branch}EmitCompensated", EVENT_ORDER_COMPENSATED, outcome))
            .next(sfn.Succeed(self, f"{branch}Compensated"))
        )

    def _emit(
        self,
        state_id: str,
        detail_type: str,
        outcome: str,
        extra: dict[str, Any] | None = None,
    ) -> tasks.EventBridgePutEvents:
        task = tasks.EventBridgePutEvents(
            self,
            state_id,
            entries=[
                tasks.EventBridgePutEventsEntry(
                    event_bus=self._bus,
                    source=EVENT_SOURCE,
                    detail_type=detail_type,
                    detail=sfn.TaskInput.from_object(
                        {
                            # The shape of opayo_fba.model.events (OrderShipped,
                            # OrderCompensated); tests/contract checks it on the bus.
                            "version": EVENT_VERSION,
                            "orderId": sfn.JsonPath.string_at("$.orderId"),
                            "outcome": outcome,
                            "executionId": sfn.JsonPath.execution_id,
                            **(extra or {}),
                        }
                    ),
                )
            ],
            result_path=sfn.JsonPath.DISCARD,
        )
        task.add_retry(
            errors=["States.ALL"],
            interval=Duration.seconds(1),
            backoff_rate=2.0,
            max_attempts=STEP_MAX_ATTEMPTS,
            jitter_strategy=sfn.JitterType.FULL,
        )
        return task


def _grant_template_reads(function: lambda_.Function, templates: list[str]) -> None:
    """Read exactly the configured S3 template objects (and their versions), nothing else."""
    objects = [
        # `?versionId=` pins a version; the ARN names the object (GetObjectVersion covers it).
        f"arn:{Stack.of(function).partition}:s3:::{ref.removeprefix('s3://').split('?', 1)[0]}"
        for ref in templates
        if ref.startswith("s3://")
    ]
    if objects:
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=objects)
        )


def _status_in(path: str, values: tuple[str, ...]) -> sfn.Condition:
    return sfn.Condition.or_(*(sfn.Condition.string_equals(path, value) for value in values))
