"""`POST /orders/{orderId}/resubmit`: try again an order Amazon could not fulfil.

Body `{resubmitId}`. 202 with the order once Amazon says it can now fulfil it and the next
attempt is started (a new fulfillment order id; the Deferred still held is captured, or the
card is charged again by a Pi Repeat after Amazon accepts the order); 200 for a repeat of the
same resubmitId; 409 with the reason for an order that did not end unfulfillable, one Amazon
still cannot fulfil, or one only the shopper can pay again (nothing is written); 400 naming
the field for bad input, 404 for an unknown order, 503 when Amazon or Opayo cannot be asked.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.http_input import body_text, screen_parameters
from opayo_fba.lambda_support import (
    error_response,
    json_response,
    order_id_parameter,
    remember_context,
    wiring,
)
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.saga.resubmit import (
    MAX_RESUBMIT_REQUEST_BYTES,
    parse_resubmit_request,
    reply_body,
    resubmit_order,
)
from opayo_fba.settings import OrderResubmitSettings, load_settings

load_settings(OrderResubmitSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    try:
        screen_parameters(event)
        order_id = order_id_parameter(event)
        request = parse_resubmit_request(body_text(event, max_bytes=MAX_RESUBMIT_REQUEST_BYTES))
        w = wiring()
        reply = resubmit_order(w.saga(), w.starter, order_id, request)
    except Exception as error:
        return error_response(error)
    return json_response(*reply_body(reply))
