"""Which settings model each handler module (functions/<name>.py) loads at its cold start.

For the tests and tools that look at every function at once (tests/infra holds each model to
the variables the synthesized template gives its function); a handler imports its own group.
"""

from __future__ import annotations

from opayo_fba.settings import Settings
from opayo_fba.settings.api import (
    OpayoWebhookSettings,
    OrderCancelSettings,
    OrderChallengeSettings,
    OrderIntakeSettings,
    OrderRefundSettings,
    OrderResubmitSettings,
    OrderReturnSettings,
    OrderStatusSettings,
)
from opayo_fba.settings.consumers import AmazonNotificationsSettings, PaymentEventsSettings
from opayo_fba.settings.jobs import (
    AfterSaleTrackerSettings,
    HeldAuthorisationsCheckSettings,
    InventoryPollerSettings,
    OpayoBatchFetchSettings,
    OrdersPollerSettings,
    PiStatusPollerSettings,
    ReportPollerSettings,
    ReportSchedulerSettings,
)
from opayo_fba.settings.saga import (
    AbortPaymentSettings,
    AmazonStepSettings,
    PaymentStepSettings,
    SagaRecoverySettings,
    SagaStepSettings,
    ValidateAndMapSettings,
)

_SAGA_STEPS: dict[str, type[Settings]] = {
    "saga_validate_and_map": ValidateAndMapSettings,
    "saga_create_fulfillment_order": AmazonStepSettings,
    "saga_capture_payment": PaymentStepSettings,
    "saga_release_fulfillment_order": AmazonStepSettings,
    "saga_check_fulfillment_status": AmazonStepSettings,
    "saga_await_fulfillment": SagaStepSettings,
    "saga_mark_shipped": AmazonStepSettings,
    "saga_refund_unshipped": PaymentStepSettings,
    "saga_abort_payment": AbortPaymentSettings,
    "saga_cancel_fulfillment_order": AmazonStepSettings,
    "saga_refund_payment": PaymentStepSettings,
    "saga_record_outcome": SagaStepSettings,
    "saga_recovery": SagaRecoverySettings,
}

#: The model each handler module (functions/<name>.py) loads at its cold start.
HANDLER_SETTINGS: dict[str, type[Settings]] = {
    "opayo_webhook": OpayoWebhookSettings,
    "order_intake": OrderIntakeSettings,
    "order_status": OrderStatusSettings,
    "order_cancel": OrderCancelSettings,
    "order_3ds_challenge": OrderChallengeSettings,
    "order_refund": OrderRefundSettings,
    "order_return": OrderReturnSettings,
    "order_resubmit": OrderResubmitSettings,
    "amazon_notifications": AmazonNotificationsSettings,
    "payment_events": PaymentEventsSettings,
    **_SAGA_STEPS,
    "orders_poller": OrdersPollerSettings,
    "inventory_poller": InventoryPollerSettings,
    "pi_status_poller": PiStatusPollerSettings,
    "report_scheduler": ReportSchedulerSettings,
    "report_poller": ReportPollerSettings,
    "opayo_batch_fetch": OpayoBatchFetchSettings,
    "held_authorisations_check": HeldAuthorisationsCheckSettings,
    "after_sale_tracker": AfterSaleTrackerSettings,
}
