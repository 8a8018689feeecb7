"""Consume SP-API notifications: FULFILLMENT_ORDER_STATUS, ORDER_CHANGE, REPORT_PROCESSING_FINISHED,
FBA_INVENTORY_AVAILABILITY_CHANGES.

Standard queue, at least once and in any order: each notification is applied once (keyed on
its NotificationId) and only ever moves an order forward. One bad record never makes the good
ones run twice (ReportBatchItemFailures).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from opayo_fba.intake.amazon_events import handle_amazon_notification, notification_id
from opayo_fba.lambda_support import IdempotentOnFirstCall, consume_batch, wiring
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import load_settings
from opayo_fba.settings.consumers import AmazonNotificationsSettings
from opayo_fba.store.amazon_orders import AmazonOrderStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = load_settings(AmazonNotificationsSettings)


def apply_notification(notification: dict[str, Any]) -> dict[str, Any]:
    w = wiring()
    result = handle_amazon_notification(
        notification["message"],
        w.store,
        w.resumer,
        AmazonOrderStore(w.store.table),
        fulfillment_readers=w.amazon,
        inventory=w.inventory_notifications(),
    )
    return {
        "outcome": result.outcome,
        "type": result.notification_type,
        "orderId": result.order_id,
        "statusSource": result.status_source,
    }


# Its idempotency records are keyed on `functions.amazon_notifications.apply_notification`.
apply_once = IdempotentOnFirstCall(
    apply_notification,
    data_keyword_argument="notification",
    event_key_jmespath="id",
    table_name=config.idempotency_table,
    expires_after_seconds=14 * 86400,
)


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    result = apply_once(notification={"id": notification_id(message), "message": message})
    logger.info("SP-API notification", extra=result)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume_batch(event, context, handle_record, fifo=False, idempotent=apply_once)
