"""Consume verified payment events (Opayo Server notifications, Pi status polling).

FIFO queue grouped by vendorTxCode: one transaction's events are applied in order, and a
failure holds back only its own group (the others go on). Each event is applied once, keyed on
the provider's own id (VPSTxId + Status), however often it is delivered.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.intake.payments import apply_payment_update
from opayo_fba.lambda_support import wiring
from opayo_fba.model import PaymentTransaction
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import PaymentEventsSettings, load_settings

config = load_settings(PaymentEventsSettings)
processor = SqsFifoPartialProcessor(skip_group_on_error=True)
idempotency = IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=14 * 86400)
persistence = DynamoDBPersistenceLayer(table_name=config.idempotency_table)


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools ships it untyped
    data_keyword_argument="event", config=idempotency, persistence_store=persistence
)
def apply_event(event: dict[str, Any]) -> dict[str, Any]:
    payment = PaymentTransaction.model_validate(event["payment"])
    result = apply_payment_update(
        wiring().store, wiring().starter, payment, contradiction=event.get("contradiction")
    )
    return {"outcome": result.outcome, "orderId": result.order_id, "started": result.saga_started}


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    result = apply_event(event=json.loads(record.body))
    logger.info("payment event", extra=result)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
