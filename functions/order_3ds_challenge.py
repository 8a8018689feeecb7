"""`POST /orders/{orderId}/3ds-challenge {cRes, threeDSSessionData}`: finish a card payment's
3-D Secure challenge; the order then goes on as any authorised order (the saga starts).

The shop calls it from its notificationURL page, with what the issuer's ACS posted there
(`cres`, `threeDSSessionData`). 200 with the order (its payment authorised or declined), the
same 200 for a repeat with the same cRes; 400 for a malformed body or a threeDSSessionData
that is not this order's; 404 for an unknown order; 409 when the order awaits no challenge,
was completed with another cRes, or was abandoned; 503 when Opayo could not be reached (send
the same request again: nothing is sent twice).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.intake.three_d_secure import ChallengeCompletion, complete_challenge
from opayo_fba.lambda_support import error_response, json_response, remember_context, wiring
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import OrderChallengeSettings, load_settings

load_settings(OrderChallengeSettings)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    remember_context(context)
    request = APIGatewayProxyEvent(event)
    order_id = (request.path_parameters or {}).get("orderId", "")
    try:
        completion = ChallengeCompletion.model_validate_json(request.decoded_body or "")
        record = complete_challenge(order_id, completion, wiring().challenges())
    except Exception as error:
        return error_response(error)
    return json_response(200, record.public_view())
