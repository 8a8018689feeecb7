"""What the API answers, as pydantic models: the OpenAPI document's responses are generated
from these, and a test holds each reply (`OrderRecord.public_view()`, the refund, return and
resubmission replies) to them. They describe replies; the handlers build them as they always
have (the store's models dumped as JSON), so nothing is validated twice at run time.

They are built (`defer_build`) only when the document is generated or a test validates a
reply with them: a function's cold start defines them and builds none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from opayo_fba.model import Refund
from opayo_fba.store.orders import PRIVATE_FIELDS, OrderRecord, OrderReturn


def _without(model: type[BaseModel], name: str, excluded: frozenset[str]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        field: (info.annotation, info)
        for field, info in model.model_fields.items()
        if field not in excluded
    }
    config = ConfigDict(**{**model.model_config, "defer_build": True})
    return create_model(name, __config__=config, **fields)


if TYPE_CHECKING:  # built at run time; to the type checker, models
    OrderView = BaseModel
    RefundView = BaseModel
else:
    OrderView = _without(OrderRecord, "OrderView", PRIVATE_FIELDS)
    """An order as `GET /orders/{orderId}` shows it (OrderRecord.public_view)."""
    RefundView = _without(Refund, "RefundView", frozenset({"reference_transaction_id"}))
    """A refund as the API shows it: not the Pi transaction it refunds."""


class ChallengeForShop(BaseModel):
    """Where the shop sends the shopper for a 3-D Secure challenge, and where to finish it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    acs_url: str = Field(alias="acsUrl")
    c_req: str = Field(alias="cReq")
    three_ds_session_data: str = Field(alias="threeDSSessionData")
    complete_with: str = Field(alias="completeWith")


class OrderAwaitingChallenge(OrderView):
    """`POST /orders` 202: the order, and the challenge the shopper must complete."""

    challenge: ChallengeForShop


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    refund: RefundView
    order: OrderView


class RefundRefusedBody(RefundBody):
    """409 when Opayo refused the refund: the reason, and the refund as it stands."""

    error: str


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    return_: OrderReturn = Field(alias="return")
    order: OrderView


class ResubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    attempt: int
    payment: Literal["held authorisation", "repeat"]
    order: OrderView


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    field: str
    reason: str


class ErrorBody(BaseModel):
    """Every refusal of ours: the reason; for a request that breaks its model, each field."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    error: str
    details: list[FieldError] | None = None


class GatewayErrorBody(BaseModel):
    """API Gateway's own refusals, before any function runs (`Invalid request body`, a body
    over its payload quota, an unknown path)."""

    model_config = ConfigDict(defer_build=True)

    message: str
