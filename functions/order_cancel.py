"""`POST /orders/{orderId}/cancel`: the merchant cancels; the saga undoes what was done.

202 with the order once Amazon confirms the fulfillment order can still be cancelled and the
request is recorded (the saga cancels and aborts or refunds), 404 for an unknown order, 409
with the reason when Amazon is already picking or has shipped it, or the order already ended,
503 when Amazon cannot be asked right now (try again), 400 for an orderId that cannot be one
or a card number in the path or query (never echoed).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.intake.cancellation import request_cancellation
from opayo_fba.lambda_support import (
    error_response,
    json_response,
    order_id_parameter,
    remember_context,
    wiring,
)
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import OrderCancelSettings, load_settings

load_settings(OrderCancelSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)  # the order: names, addresses
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    try:
        order_id = order_id_parameter(event)
        w = wiring()
        record = request_cancellation(
            w.store, order_id, "merchant request", w.resumer, amazon=w.amazon
        )
    except Exception as error:
        return error_response(error)
    return json_response(202, record.public_view())
