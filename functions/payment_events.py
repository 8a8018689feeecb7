"""Consume verified payment events (Opayo Server notifications, Pi status polling).

FIFO queue grouped by vendorTxCode: one transaction's events are applied in order, and a
failure holds back only its own group (the others go on). Each event is applied once, keyed on
the provider's own id (VPSTxId + Status), however often it is delivered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from opayo_fba.intake.payments import apply_payment_update
from opayo_fba.lambda_support import IdempotentOnFirstCall, consume_batch, wiring
from opayo_fba.model import PaymentTransaction
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import load_settings
from opayo_fba.settings.consumers import PaymentEventsSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

config = load_settings(PaymentEventsSettings)


def apply_event(event: dict[str, Any]) -> dict[str, Any]:
    payment = PaymentTransaction.model_validate(event["payment"])
    result = apply_payment_update(
        wiring().store, wiring().starter, payment, contradiction=event.get("contradiction")
    )
    return {"outcome": result.outcome, "orderId": result.order_id, "started": result.saga_started}


# Its idempotency records are keyed on `functions.payment_events.apply_event`, as before.
apply_once = IdempotentOnFirstCall(
    apply_event,
    data_keyword_argument="event",
    event_key_jmespath="event_id",
    table_name=config.idempotency_table,
    expires_after_seconds=14 * 86400,
)


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    result = apply_once(event=json.loads(record.body))
    logger.info("payment event", extra=result)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume_batch(event, context, handle_record, fifo=True, idempotent=apply_once)
