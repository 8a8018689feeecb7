"""Every name the CDK app uses, in one place.

Construct ids, resource name fragments, environment variable names and the function list live
here so that a rename is one edit and the tests can refer to the same names the stack uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SERVICE_NAME: Final = "opayo-fba"
STACK_ID_PREFIX: Final = "OpayoFba"
METRICS_NAMESPACE: Final = "OpayoFba"

# cdk.json context keys.
CONTEXT_ENVIRONMENT: Final = "opayo-fba:environment"
CONTEXT_ENVIRONMENTS: Final = "opayo-fba:environments"

# The Lambda platform we build for: the latest Python runtime (cdk-nag L1 asks for it) on
# Graviton, which is cheaper per GB-second; every pinned runtime dependency publishes
# manylinux2014_aarch64 wheels for CPython 3.14. The code itself stays 3.11-compatible.
LAMBDA_PYTHON_VERSION: Final = "3.14"
LAMBDA_PIP_PLATFORM: Final = "manylinux2014_aarch64"

# Amazon's Selling Partner API notification service sends to customers' SQS queues from this
# AWS account (SP-API docs, "Set up notifications (Amazon SQS workflow)", step 1: principal
# 437568002678, actions SendMessage and GetQueueAttributes).
SP_API_NOTIFICATIONS_ACCOUNT: Final = "437568002678"

# Error names the saga's Lambda steps raise (the domain maps its exceptions to these names in
# one place); the state machine's Retry and Catch clauses match on them.
ERROR_PAYMENT_DECLINED: Final = "PaymentDeclined"
ERROR_FULFILLMENT_REJECTED: Final = "FulfillmentRejected"
ERROR_CAPTURE_FAILED: Final = "CaptureFailed"
ERROR_MERCHANT_CANCELLED: Final = "MerchantCancelled"
ERROR_FULFILLMENT_UNDERWAY: Final = "FulfillmentUnderway"
ERROR_CANCELLATION_REFUSED: Final = "CancellationRefused"
ERROR_UPSTREAM: Final = "UpstreamError"
ERROR_THROTTLED: Final = "ThrottledError"

# Custom metrics the functions publish through Powertools (dashboard and alarms read them).
METRIC_SAGA_COMPENSATED: Final = "SagaCompensated"
METRIC_SP_API_THROTTLED: Final = "SpApiThrottled"
METRIC_SAGA_RECOVERY_FAILED: Final = "SagaRecoveryFailed"
METRIC_HELD_AUTHORISATIONS: Final = "HeldAuthorisations"
METRIC_UNITS_NOT_SHIPPED: Final = "UnitsNotShipped"
METRIC_REFUNDS_REFUSED: Final = "RefundsRefused"
METRIC_PENDING_REFUNDS_LEFT: Final = "PendingRefundsLeft"
METRIC_DELIVERY_FAILURES: Final = "DeliveryFailures"
METRIC_ORDERS_UNFULFILLABLE: Final = "OrdersUnfulfillable"
# Per seller account (opayo_fba.observability.account_metric): dimensions service, sellerAccount.
ACCOUNT_DIMENSION: Final = "sellerAccount"
METRIC_ACCOUNT_RECEIVED: Final = "AccountOrdersReceived"
METRIC_ACCOUNT_COMPENSATED: Final = "AccountOrdersCompensated"
METRIC_ACCOUNT_DECLINED: Final = "AccountPaymentsDeclined"
METRIC_ACCOUNT_UNFULFILLABLE: Final = "AccountOrdersUnfulfillable"
METRIC_ACCOUNT_HELD: Final = "AccountHeldAuthorisations"
# A genuine Opayo notification whose unsigned fields contradict the registered transaction.
METRIC_SERVER_NOTIFICATION_CONTRADICTION: Final = "ServerNotificationContradiction"

# Environment variable names the functions read (opayo_fba.settings reads the same names).
ENV_ORDERS_TABLE: Final = "ORDERS_TABLE_NAME"
ENV_IDEMPOTENCY_TABLE: Final = "IDEMPOTENCY_TABLE_NAME"
ENV_CONNECTOR_STATE_TABLE: Final = "CONNECTOR_STATE_TABLE_NAME"
ENV_REPORTS_BUCKET: Final = "REPORTS_BUCKET_NAME"
ENV_PAYMENT_EVENTS_QUEUE_URL: Final = "PAYMENT_EVENTS_QUEUE_URL"
ENV_EVENT_BUS_NAME: Final = "EVENT_BUS_NAME"
ENV_STATE_MACHINE_ARN: Final = "SAGA_STATE_MACHINE_ARN"
ENV_SELLER_SECRET_ARNS: Final = "SELLER_SECRET_ARNS"  # noqa: S105 (a variable name, not a secret)
ENV_VENDOR_SECRET_ARNS: Final = "VENDOR_SECRET_ARNS"  # noqa: S105 (a variable name, not a secret)
ENV_ENVIRONMENT_NAME: Final = "OPAYO_FBA_ENVIRONMENT"
ENV_OPAYO_VENDORS: Final = "OPAYO_VENDORS"
# Marketplace ids by seller account (JSON): order intake refuses any other account or marketplace.
ENV_SELLER_MARKETPLACES: Final = "SELLER_MARKETPLACES"
ENV_SECURITY_KEYS_KEY_ARN: Final = "SECURITY_KEYS_KEY_ARN"
ENV_OPAYO_REDIRECT_URL: Final = "OPAYO_REDIRECT_URL"
ENV_MAPPING_TEMPLATES: Final = "MAPPING_TEMPLATES"
ENV_FULFILLMENT_POLICY: Final = "FULFILLMENT_POLICY"
ENV_RETURN_DEDUCTIONS: Final = "RETURN_DEDUCTIONS"
ENV_UNFULFILLABLE_AUTHORISATIONS: Final = "UNFULFILLABLE_AUTHORISATIONS"
# The merchant's routing rules (cdk.json `routing`) as JSON, for order intake.
ENV_ROUTING_RULES: Final = "ROUTING_RULES"
ENV_RECONCILE_CONFIG: Final = "RECONCILE_CONFIG"
# The merchant's SKU mapping CSV per seller account (JSON {account: s3://bucket/key}).
ENV_SKU_MAPPINGS: Final = "SKU_MAPPINGS"

# Canonical events on the bus to the merchant's ERP.
EVENT_SOURCE: Final = "opayo-fba"
EVENT_ORDER_SHIPPED: Final = "OrderShipped"
EVENT_ORDER_COMPENSATED: Final = "OrderCompensated"
EVENT_CANCELLATION_REFUSED: Final = "CancellationRefused"
EVENT_INVENTORY_LEVEL_CHANGED: Final = "InventoryLevelChanged"


# A Step Functions task must never time out while its function is still running: the state
# would move on (to a compensation that sees nothing done) while the function goes on and
# captures. A function's run is bounded by its timeout, and every wait inside it, rate-limit
# waits included, is bounded by its remaining time (opayo_fba.lambda_support.time_budget,
# which SpApiConnector passes to the limiter as max_wait). Lambda's init phase is not part of
# that timeout and may take up to 10 s ("Lambda execution environment lifecycle", Init
# phase); the state allows for it and for the invocation itself.
LAMBDA_INIT_SECONDS: Final = 10
STATE_TIMEOUT_MARGIN_SECONDS: Final = 5


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: `functions/<module>.py` with a `handler` callable."""

    module: str
    description: str
    timeout_seconds: int = 30
    memory_mb: int = 512

    @property
    def state_timeout_seconds(self) -> int:
        """The Step Functions task timeout for this function: longer than it can ever run.

        Its rate-limit waits are inside `timeout_seconds` (they are bounded by the time
        budget), so the function's timeout plus its init phase bounds the whole invocation.
        """
        return self.timeout_seconds + LAMBDA_INIT_SECONDS + STATE_TIMEOUT_MARGIN_SECONDS

    @property
    def construct_id(self) -> str:
        return "".join(part.capitalize() for part in self.module.split("_")) + "Function"

    @property
    def handler(self) -> str:
        return f"{self.module}.handler"


# Edge: API Gateway and queue consumers.
OPAYO_WEBHOOK = FunctionSpec("opayo_webhook", "Verify an Opayo Server notification and queue it")
ORDER_INTAKE = FunctionSpec("order_intake", "Accept an order from the shop or ERP, start the saga")
ORDER_STATUS = FunctionSpec("order_status", "Answer GET /orders/{orderId}")
ORDER_CANCEL = FunctionSpec("order_cancel", "POST /orders/{orderId}/cancel: the merchant cancels")
ORDER_REFUND = FunctionSpec(
    "order_refund", "POST /orders/{orderId}/refunds: the shop or ERP refunds an order", 60
)
ORDER_RESUBMIT = FunctionSpec(
    "order_resubmit",
    "POST /orders/{orderId}/resubmit: try again an order Amazon could not fulfil",
    60,
)
ORDER_RETURN = FunctionSpec(
    "order_return", "POST /orders/{orderId}/returns: ask Amazon for a return authorization", 60
)
ORDER_3DS_CHALLENGE = FunctionSpec(
    "order_3ds_challenge", "POST /orders/{orderId}/3ds-challenge: finish a card's 3-D Secure"
)
PAYMENT_EVENTS = FunctionSpec("payment_events", "Consume verified Opayo payment events (FIFO)")
AMAZON_NOTIFICATIONS = FunctionSpec(
    "amazon_notifications", "Consume SP-API notifications (order change, fulfillment status)"
)

# Saga steps (Step Functions Lambda tasks).
SAGA_VALIDATE_AND_MAP = FunctionSpec("saga_validate_and_map", "Saga: validate and map the order")
SAGA_CREATE_FULFILLMENT_ORDER = FunctionSpec(
    "saga_create_fulfillment_order", "Saga: create the FBA fulfillment order on Hold"
)
SAGA_CAPTURE_PAYMENT = FunctionSpec(
    "saga_capture_payment", "Saga: release (capture) the Deferred Opayo payment"
)
SAGA_RELEASE_FULFILLMENT_ORDER = FunctionSpec(
    "saga_release_fulfillment_order", "Saga: update the fulfillment order from Hold to Ship"
)
SAGA_CHECK_FULFILLMENT_STATUS = FunctionSpec(
    "saga_check_fulfillment_status", "Saga: read the fulfillment order status"
)
SAGA_AWAIT_FULFILLMENT = FunctionSpec(
    "saga_await_fulfillment", "Saga: leave the task token where notifications resume it"
)
SAGA_MARK_SHIPPED = FunctionSpec(
    "saga_mark_shipped", "Saga: record the shipments and tracking, note units not shipped"
)
SAGA_REFUND_UNSHIPPED = FunctionSpec(
    "saga_refund_unshipped", "Saga: refund the units Amazon did not ship"
)
SAGA_ABORT_PAYMENT = FunctionSpec("saga_abort_payment", "Saga compensation: abort the payment")
SAGA_CANCEL_FULFILLMENT_ORDER = FunctionSpec(
    "saga_cancel_fulfillment_order", "Saga compensation: cancel the fulfillment order"
)
SAGA_REFUND_PAYMENT = FunctionSpec("saga_refund_payment", "Saga compensation: refund the payment")
SAGA_RECORD_OUTCOME = FunctionSpec(
    "saga_record_outcome", "Saga: record a declined or compensated outcome on the order"
)

# Recovery: the saga's executions that ended badly, made right from the providers' state.
SAGA_RECOVERY = FunctionSpec(
    "saga_recovery", "Make a failed, timed-out or aborted saga execution right", 120
)

# Scheduled pollers.
ORDERS_POLLER = FunctionSpec("orders_poller", "Poll Amazon Orders since the watermark", 300)
REPORT_SCHEDULER = FunctionSpec("report_scheduler", "Request Amazon reports on schedule", 120)
REPORT_POLLER = FunctionSpec("report_poller", "Poll requested reports, archive documents", 300)
OPAYO_BATCH_FETCH = FunctionSpec("opayo_batch_fetch", "Fetch Opayo settlement batches", 300)
INVENTORY_POLLER = FunctionSpec(
    "inventory_poller", "Poll FBA inventory summaries changed since the watermark", 120
)
PI_STATUS_POLLER = FunctionSpec("pi_status_poller", "Poll Opayo Pi for pending transactions", 300)
AFTER_SALE_TRACKER = FunctionSpec(
    "after_sale_tracker", "Follow shipped packages to delivery (getPackageTrackingDetails)", 300
)
HELD_AUTHORISATIONS_CHECK = FunctionSpec(
    "held_authorisations_check", "Alarm on, and abort per policy, Deferreds held too long", 300
)

SAGA_FUNCTIONS: Final = (
    SAGA_VALIDATE_AND_MAP,
    SAGA_CREATE_FULFILLMENT_ORDER,
    SAGA_CAPTURE_PAYMENT,
    SAGA_RELEASE_FULFILLMENT_ORDER,
    SAGA_AWAIT_FULFILLMENT,
    SAGA_CHECK_FULFILLMENT_STATUS,
    SAGA_MARK_SHIPPED,
    SAGA_REFUND_UNSHIPPED,
    SAGA_ABORT_PAYMENT,
    SAGA_CANCEL_FULFILLMENT_ORDER,
    SAGA_REFUND_PAYMENT,
    SAGA_RECORD_OUTCOME,
)
SCHEDULED_FUNCTIONS: Final = (
    ORDERS_POLLER,
    INVENTORY_POLLER,
    REPORT_SCHEDULER,
    REPORT_POLLER,
    OPAYO_BATCH_FETCH,
    PI_STATUS_POLLER,
    HELD_AUTHORISATIONS_CHECK,
    AFTER_SALE_TRACKER,
)
# Functions that post to Opayo's Shared Protocol, which accepts only registered IPs: they run
# in the VPC behind NAT with the Elastic IP (infra/egress.py). Every other function stays out.
FIXED_EGRESS_FUNCTIONS: Final = (
    ORDER_REFUND,
    SAGA_CAPTURE_PAYMENT,
    SAGA_ABORT_PAYMENT,
    SAGA_REFUND_PAYMENT,
    SAGA_REFUND_UNSHIPPED,
    SAGA_RECOVERY,
    HELD_AUTHORISATIONS_CHECK,
    AFTER_SALE_TRACKER,
)
ALL_FUNCTIONS: Final = (
    OPAYO_WEBHOOK,
    ORDER_INTAKE,
    ORDER_STATUS,
    ORDER_CANCEL,
    ORDER_REFUND,
    ORDER_RETURN,
    ORDER_RESUBMIT,
    ORDER_3DS_CHALLENGE,
    PAYMENT_EVENTS,
    AMAZON_NOTIFICATIONS,
    *SAGA_FUNCTIONS,
    SAGA_RECOVERY,
    *SCHEDULED_FUNCTIONS,
)
