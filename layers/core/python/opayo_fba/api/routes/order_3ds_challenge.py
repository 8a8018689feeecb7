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

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from opayo_fba.api.documented import responses
from opayo_fba.api.errors import json_reply
from opayo_fba.api.resolver import OrderIdPath, RequestBody, new_router
from opayo_fba.intake.three_d_secure import (
    MAX_CHALLENGE_REQUEST_BYTES,
    MAX_CHALLENGE_REQUEST_DEPTH,
    ChallengeCompletion,
    complete_challenge,
)
from opayo_fba.lambda_support import wiring

router = new_router()
BODY = RequestBody(
    ChallengeCompletion, "challenge", MAX_CHALLENGE_REQUEST_BYTES, MAX_CHALLENGE_REQUEST_DEPTH
)


@router.post(
    "/orders/<orderId>/3ds-challenge",
    operation_id="completeChallenge",
    summary="Finish a card payment's 3-D Secure challenge",
    description=__doc__,
    tags=["orders"],
    responses=responses(
        {200: ("The order, its payment decided", "OrderView")}, (400, 404, 409, 413, 503)
    ),
)
def complete_challenge_route(
    order_id: Annotated[OrderIdPath, Path(alias="orderId")],
    completion: Annotated[ChallengeCompletion, Body()],
) -> Response[Any]:
    record = complete_challenge(order_id, completion, wiring().challenges())
    return json_reply(200, record.public_view())
