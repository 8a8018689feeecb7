"""`POST /orders/{orderId}/refunds`: the shop or ERP refunds an order, whole or in part.

Body `{refundId, amount: {amount, currency} | lines: [{lineId, quantity}], reason}`. 201 with
the refund and the order once Opayo has refunded it, 200 for a repeat of a refundId already
used for the same refund, 202 while Opayo has not answered (the refund stays pending and is
carried out by a repeat or the scheduled sweep), 409 with the reason for a refund beyond what
can still be refunded, an order not captured, a refundId used for another refund, or one
Opayo refused; 400 naming the field for bad input, 404 for an unknown order.
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
from opayo_fba.refunds.requests import (
    MAX_REFUND_REQUEST_BYTES,
    parse_refund_request,
    reply_body,
    request_refund,
)
from opayo_fba.settings import OrderRefundSettings, load_settings

load_settings(OrderRefundSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    try:
        screen_parameters(event)
        order_id = order_id_parameter(event)
        request = parse_refund_request(body_text(event, max_bytes=MAX_REFUND_REQUEST_BYTES))
        reply = request_refund(wiring().saga(), order_id, request)
    except Exception as error:
        return error_response(error)
    return json_response(*reply_body(reply))
