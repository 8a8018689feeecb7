"""`POST /webhooks/opayo/{vendor}`: an Opayo Server notification, signed with VPSSignature.

HTTP 200 with Opayo's plain-text reply: `Status=OK` once the verified event is queued (whatever
its Status), `Status=INVALID` (with the reason) for a forged, altered or malformed
notification, which changes nothing. A notification whose order has not reached us yet is
answered 503 with no `Status=` line (lambda_support's mapping of NotificationNotYetVerifiable):
Opayo sends it again, whereas INVALID or ERROR would cancel the payment.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import UpstreamError
from opayo_fba.http_input import raw_body
from opayo_fba.intake.webhook import (
    METRIC_CONTRADICTION,
    NotificationNotYetVerifiable,
    handle_server_notification,
)
from opayo_fba.lambda_support import error_response, json_response, wiring
from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import OpayoWebhookSettings, load_settings

config = load_settings(OpayoWebhookSettings)
# Vendors this deployment serves (the CDK app sets OPAYO_VENDORS from its configuration).
VENDORS = config.opayo_vendors


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayProxyEvent(event)
    vendor = (request.path_parameters or {}).get("vendor", "")
    if VENDORS and vendor not in VENDORS:
        return {"statusCode": 404, "body": f"unknown vendor {quote_input(vendor, 16)}"}
    w = wiring()
    try:
        reply = handle_server_notification(
            vendor,
            raw_body(event),
            store=w.store,
            queue=w.payment_queue,
            redirect_url=w.config.opayo_redirect_url,
            unseal=w.sealer.unseal,
        )
    except NotificationNotYetVerifiable as error:
        # Expected (the order is on its way): a warning, not an error with a traceback.
        logger.warning("notification not verifiable yet", extra={"reason": str(error)})
        metrics.add_metric(name="OpayoNotificationRetry", unit="Count", value=1)
        return json_response(503, {"error": type(error).__name__})
    except UpstreamError as error:
        return error_response(error)
    if reply.status != "OK":
        logger.warning(
            "notification not accepted", extra={"reply": reply.status, "reason": reply.reason}
        )
    metrics.add_metric(name=f"OpayoNotification{reply.status.title()}", unit="Count", value=1)
    if reply.contradictions:
        logger.warning("notification contradicts the registration", extra={"reply": reply.status})
        metrics.add_metric(name=METRIC_CONTRADICTION, unit="Count", value=1)
    return {
        "statusCode": 200,
        "headers": {"content-type": "text/plain"},
        "body": reply.body,
    }
