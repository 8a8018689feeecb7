"""`POST /webhooks/opayo/{vendor}`: an Opayo Server notification, signed with VPSSignature.

HTTP 200 with Opayo's plain-text reply: `Status=OK` once the verified event is queued (whatever
its Status), `Status=INVALID` (with the reason) for a forged, altered or malformed
notification, which changes nothing. A notification whose order has not reached us yet is
answered 503 with no `Status=` line: Opayo sends it again, whereas INVALID or ERROR would
cancel the payment. 404 (plain text) for a vendor this deployment does not serve.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path

from opayo_fba.api.documented import json_content
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import new_router
from opayo_fba.card_numbers import quote_input
from opayo_fba.http_input import raw_body
from opayo_fba.intake.webhook import (
    METRIC_CONTRADICTION,
    NotificationNotYetVerifiable,
    handle_server_notification,
)
from opayo_fba.lambda_support import wiring
from opayo_fba.observability import logger, metrics
from opayo_fba.settings import settings

router = new_router()
_PLAIN_TEXT: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}}}


@router.post(
    "/webhooks/opayo/<vendor>",
    operation_id="notifyOpayoServer",
    summary="An Opayo Server notification (form-urlencoded, signed with VPSSignature)",
    description=__doc__,
    tags=["webhooks"],
    openapi_extensions={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            },
        }
    },
    responses={
        200: {"description": "Opayo's reply: Status=OK or Status=INVALID", "content": _PLAIN_TEXT},
        404: {"description": "A vendor this deployment does not serve", "content": _PLAIN_TEXT},
        503: {
            "description": "Not verifiable yet (its order is on its way): Opayo sends it again",
            "content": json_content("ErrorBody"),
        },
    },
)
def notify_route(vendor: Annotated[str, Path()]) -> Response[Any]:
    # The vendors this deployment serves: OPAYO_VENDORS, read with the function's settings.
    vendors = settings().opayo_vendors
    if vendors and vendor not in vendors:
        # Plain text, and saying so (it once came with no Content-Type: found by the fuzzer).
        return Response(404, content_types.TEXT_PLAIN, f"unknown vendor {quote_input(vendor, 16)}")
    w = wiring()
    reply = handle_server_notification(
        vendor,
        raw_body(router.current_event.raw_event),
        store=w.store,
        queue=w.payment_queue,
        redirect_url=w.config.opayo_redirect_url,
        unseal=w.sealer.unseal,
    )
    if reply.status != "OK":
        logger.warning(
            "notification not accepted", extra={"reply": reply.status, "reason": reply.reason}
        )
    metrics.add_metric(name=f"OpayoNotification{reply.status.title()}", unit="Count", value=1)
    if reply.contradictions:
        logger.warning("notification contradicts the registration", extra={"reply": reply.status})
        metrics.add_metric(name=METRIC_CONTRADICTION, unit="Count", value=1)
    return Response(200, content_types.TEXT_PLAIN, reply.body)


@router.exception_handler(NotificationNotYetVerifiable)  # type: ignore[untyped-decorator]
def not_verifiable_yet(error: NotificationNotYetVerifiable) -> Response[str]:
    # Expected (the order is on its way): a warning, not an error with a traceback.
    logger.warning("notification not verifiable yet", extra={"reason": str(error)})
    metrics.add_metric(name="OpayoNotificationRetry", unit="Count", value=1)
    return json_reply(503, {"error": type(error).__name__})
