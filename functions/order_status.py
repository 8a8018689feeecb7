"""`GET /orders/{orderId}`: the order's canonical status, payment, fulfillment and history.

404 for an unknown order (its id quoted masked), 400 for an orderId that cannot be one or a
card number in the path or query (never echoed).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import NotFoundError
from opayo_fba.lambda_support import error_response, json_response, order_id_parameter, wiring
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import OrderStatusSettings, load_settings

load_settings(OrderStatusSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)  # the order: names, addresses
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        order_id = order_id_parameter(event)
        record = wiring().store.find(order_id)
        if record is None:
            raise NotFoundError(f"no order {quote_input(order_id)}")
    except Exception as error:
        return error_response(error)
    return json_response(200, record.public_view())
