"""Consume SP-API notifications: FULFILLMENT_ORDER_STATUS, ORDER_CHANGE, REPORT_PROCESSING_FINISHED,
FBA_INVENTORY_AVAILABILITY_CHANGES.

Standard queue, at least once and in any order: each notification is applied once (keyed on
its NotificationId) and only ever moves an order forward. One bad record never makes the good
ones run twice (ReportBatchItemFailures).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.intake.amazon_events import handle_amazon_notification, notification_id
from opayo_fba.lambda_support import wiring
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import AmazonNotificationsSettings, load_settings
from opayo_fba.store.amazon_orders import AmazonOrderStore

config = load_settings(AmazonNotificationsSettings)
processor = BatchProcessor(event_type=EventType.SQS)
idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=14 * 86400)
persistence = DynamoDBPersistenceLayer(table_name=config.idempotency_table)


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools ships it untyped
    data_keyword_argument="notification", config=idempotency, persistence_store=persistence
)
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


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    result = apply_notification(notification={"id": notification_id(message), "message": message})
    logger.info("SP-API notification", extra=result)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
