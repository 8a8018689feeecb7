"""The Amazon sandbox's own `/_sandbox/...` routes (the clock and faults routes are common).

POST /_sandbox/clock/advance      jump the clock, then apply every transition that fell due
GET|POST /_sandbox/notifications  targets (SQS queue URL or HTTP URL), duplicate_rate, log
GET|POST /_sandbox/rate-limits    {"enabled", "scale", "overrides": {op: {"rate", "burst"}}}
POST /_sandbox/settlements/close  close a settlement now; returns the report
GET|POST /_sandbox/inventory      stock levels by pool; POST {"sku", "quantity"[, "pool" or
                                  "marketplaceId"]} sets one (default: the home pool)
POST /_sandbox/tracking           {"outcome", "sellerFulfillmentOrderId" | "packageNumber"}
POST /_sandbox/returns            {"sellerFulfillmentOrderId", "condition", "sellerReturnItemId"?}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.amazon import after_sale
from sandbox.amazon.options import NotificationTarget, RateLimit
from sandbox.common import control as common_control

if TYPE_CHECKING:
    from sandbox.amazon.app import AmazonSandbox


class NotificationConfig(BaseModel):
    targets: list[NotificationTarget] = Field(default_factory=list)
    duplicate_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class RateLimitConfig(BaseModel):
    enabled: bool = True
    overrides: dict[str, RateLimit] = Field(default_factory=dict)
    scale: float = Field(default=1.0, gt=0)


class InventoryUpdate(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=0)
    # The stock pool ("UK", "EU"; sandbox/amazon/pools.py), or a marketplace whose pool it is;
    # neither: the home marketplace's pool.
    pool: str | None = Field(default=None, min_length=1)
    marketplaceId: str | None = Field(default=None, min_length=1)


class TrackingOutcome(BaseModel):
    outcome: Literal["DELIVERED", "DELAYED", "UNDELIVERABLE", "RETURNED"]
    sellerFulfillmentOrderId: str | None = Field(default=None, min_length=1)
    packageNumber: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TrackingOutcome:
        if (self.sellerFulfillmentOrderId is None) == (self.packageNumber is None):
            raise ValueError("give exactly one of sellerFulfillmentOrderId and packageNumber")
        return self


class ReturnCondition(BaseModel):
    sellerFulfillmentOrderId: str = Field(min_length=1)
    condition: Literal[
        "Sellable", "Defective", "CustomerDamaged", "CarrierDamaged", "FulfillerDamaged"
    ]
    sellerReturnItemId: str | None = None


def _sandbox(request: Request) -> AmazonSandbox:
    sandbox: AmazonSandbox = request.app.state.sandbox
    return sandbox


def _bad_request(error: ValidationError) -> JSONResponse:
    return JSONResponse(
        {
            "error": "invalid request",
            "details": error.errors(include_url=False, include_context=False),
        },
        400,
    )


async def advance_clock(request: Request) -> Response:
    response = await common_control.advance_clock(request)
    if response.status_code == 200:
        _sandbox(request).state.sync()
    return response


async def get_notifications(request: Request) -> JSONResponse:
    dispatcher = _sandbox(request).notifications
    return JSONResponse(
        {
            "targets": [t.model_dump(mode="json") for t in dispatcher.targets],
            "duplicate_rate": dispatcher.duplicate_rate,
            "published": dispatcher.published_count,
            "pending": dispatcher.pending(),
            "delivered": list(dispatcher.delivered),
            "failed": list(dispatcher.failed),
        }
    )


async def set_notifications(request: Request) -> JSONResponse:
    try:
        config = NotificationConfig.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    _sandbox(request).notifications.configure(config.targets, config.duplicate_rate)
    return await get_notifications(request)


async def get_rate_limits(request: Request) -> JSONResponse:
    limiter = _sandbox(request).rate_limiter
    return JSONResponse(
        {
            "enabled": limiter.enabled,
            "scale": limiter.scale,
            "overrides": {k: v.model_dump() for k, v in limiter.overrides.items()},
        }
    )


async def set_rate_limits(request: Request) -> JSONResponse:
    try:
        config = RateLimitConfig.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    _sandbox(request).rate_limiter.configure(
        enabled=config.enabled, overrides=config.overrides, scale=config.scale
    )
    return await get_rate_limits(request)


async def close_settlement(request: Request) -> JSONResponse:
    from sandbox.amazon.settlement import close_settlement as close

    sandbox = _sandbox(request)
    sandbox.state.sync()
    report = close(sandbox.state, sandbox.clock.now())
    return JSONResponse(report)


async def get_inventory(request: Request) -> JSONResponse:
    stock = sorted(_sandbox(request).store.all("inventory"), key=lambda r: (r["sku"], r["pool"]))
    return JSONResponse({"inventory": stock})


async def set_inventory(request: Request) -> JSONResponse:
    try:
        update = InventoryUpdate.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    state = _sandbox(request).state
    pool = update.pool or state.pool_for(update.marketplaceId)
    try:
        state.set_inventory(update.sku, update.quantity, pool)
    except KeyError:
        return JSONResponse({"error": f"unknown sku {update.sku!r} in the {pool} pool"}, 404)
    return await get_inventory(request)


async def set_tracking_outcome(request: Request) -> JSONResponse:
    try:
        wanted = TrackingOutcome.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    try:
        changed = after_sale.set_tracking_outcome(
            _sandbox(request).state,
            wanted.outcome,
            order_id=wanted.sellerFulfillmentOrderId,
            package_number=wanted.packageNumber,
        )
    except KeyError:
        return JSONResponse({"error": f"unknown package {wanted.packageNumber}"}, 404)
    except ValueError as error:
        return JSONResponse({"error": str(error)}, 409)
    return JSONResponse({"outcome": wanted.outcome, "packageNumbers": changed})


async def set_return_condition(request: Request) -> JSONResponse:
    try:
        wanted = ReturnCondition.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    try:
        items = after_sale.set_return_condition(
            _sandbox(request).state,
            wanted.sellerFulfillmentOrderId,
            wanted.condition,
            wanted.sellerReturnItemId,
        )
    except KeyError:
        return JSONResponse({"error": "no return item still New matches"}, 404)
    return JSONResponse({"condition": wanted.condition, "sellerReturnItemIds": items})


def amazon_control_routes() -> list[Route]:
    """Must come before the common control routes (it overrides clock/advance)."""
    return [
        Route("/_sandbox/clock/advance", advance_clock, methods=["POST"]),
        Route("/_sandbox/notifications", get_notifications, methods=["GET"]),
        Route("/_sandbox/notifications", set_notifications, methods=["POST"]),
        Route("/_sandbox/rate-limits", get_rate_limits, methods=["GET"]),
        Route("/_sandbox/rate-limits", set_rate_limits, methods=["POST"]),
        Route("/_sandbox/settlements/close", close_settlement, methods=["POST"]),
        Route("/_sandbox/inventory", get_inventory, methods=["GET"]),
        Route("/_sandbox/inventory", set_inventory, methods=["POST"]),
        Route("/_sandbox/tracking", set_tracking_outcome, methods=["POST"]),
        Route("/_sandbox/returns", set_return_condition, methods=["POST"]),
    ]
