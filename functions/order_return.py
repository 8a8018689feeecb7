"""`POST /orders/{orderId}/returns`: ask Amazon for a return authorization for shipped units.

Body `{returnId, items: [{lineId, quantity}], reasonCode, comment?}`. 201 with the return and
its RMA details (Amazon's RMA id, the address to send the parcel to, the RMA page) for a new
return, 200 for a repeat of a returnId already used for the same units, 409 with the reason
for units not shipped or already returned, a returnId used for other units, an order not
shipped, or a return Amazon refused; 400 naming the field (a reason code Amazon does not
accept for the SKU lists those it does), 404 for an unknown order, 503 when Amazon cannot be
asked right now (try again: the same returnId is the same return).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.after_sale.returns import (
    MAX_RETURN_REQUEST_BYTES,
    parse_return_request,
    request_return,
)
from opayo_fba.http_input import body_text, screen_parameters
from opayo_fba.lambda_support import (
    error_response,
    json_response,
    order_id_parameter,
    remember_context,
    wiring,
)
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import OrderReturnSettings, load_settings

load_settings(OrderReturnSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    try:
        screen_parameters(event)
        order_id = order_id_parameter(event)
        request = parse_return_request(body_text(event, max_bytes=MAX_RETURN_REQUEST_BYTES))
        w = wiring()
        record = w.store.get(order_id)
        made, created, record = request_return(
            w.saga(), w.amazon(record.seller_account), order_id, request
        )
    except Exception as error:
        return error_response(error)
    body = {"return": made.model_dump(mode="json"), "order": record.public_view()}
    return json_response(201 if created else 200, body)
