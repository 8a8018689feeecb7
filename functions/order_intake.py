"""`POST /orders`: accept an order from the shop or ERP and start the saga once it is paid.

API Gateway REST proxy integration. 201 with the order for a new order, 200 for a repeat of
the same order, 202 with `challenge` (acsUrl, cReq, threeDSSessionData) when Opayo asks the
shopper for a 3-D Secure challenge, 400 naming the field for bad input (a body that is not
UTF-8, nesting deeper than accepted, a card number anywhere, an unknown vendor, seller account
or marketplace), 413 for a body over MAX_ORDER_REQUEST_BYTES, 409 for a different order under
an existing id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.http_input import body_text, screen_parameters
from opayo_fba.intake.orders import MAX_ORDER_REQUEST_BYTES, parse_submission, submit_order
from opayo_fba.intake.three_d_secure import submission_reply
from opayo_fba.lambda_support import error_response, json_response, remember_context, wiring
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import OrderIntakeSettings, load_settings

load_settings(OrderIntakeSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)  # the order: names, addresses
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    try:
        screen_parameters(event)
        submission = parse_submission(body_text(event, max_bytes=MAX_ORDER_REQUEST_BYTES))
        before = wiring().store.find(str(submission.order.order_id))
        record = submit_order(submission, wiring().intake())
    except Exception as error:
        return error_response(error)
    metrics.add_metric(name="OrdersReceived", unit="Count", value=0 if before else 1)
    return json_response(*submission_reply(record, existed=before is not None))
