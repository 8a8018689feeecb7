"""The Amazon SP-API sandbox as a Starlette app: `create_app(options)`.

Every SP-API route is built from its operationId in the official model (method and path come
from `opayo_fba.amazon.spapi_models.operation`) and runs the same pipeline: fault injection ->
state sync -> access token -> rate limit -> request-body validation against the model ->
handler -> response (with `x-amzn-RateLimit-Limit`), recorded for contract checks in tests.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import opayo_fba.amazon.spapi_models as spapi_models
from sandbox.amazon import (
    after_sale,
    auth,
    control,
    fulfillment,
    inventory,
    orders,
    reports,
    settlement,
)
from sandbox.amazon.errors import ApiError, error_body, invalid_input
from sandbox.amazon.notifications import NotificationDispatcher
from sandbox.amazon.options import AmazonSandboxOptions
from sandbox.amazon.ratelimit import RateLimiter
from sandbox.amazon.state import AmazonState, ApiCall
from sandbox.common.clock import SandboxClock
from sandbox.common.control import control_routes
from sandbox.common.faults import FaultInjector, with_faults
from sandbox.common.store import StateStore

logger = logging.getLogger(__name__)

Handler = Callable[[AmazonState, ApiCall], tuple[int, dict[str, Any]]]

HANDLERS: dict[str, Handler] = {
    "getOrders": orders.get_orders,
    "getOrder": orders.get_order,
    "getOrderItems": orders.get_order_items,
    "getOrderBuyerInfo": orders.get_order_buyer_info,
    "getOrderAddress": orders.get_order_address,
    "createRestrictedDataToken": auth.create_restricted_data_token,
    "getFulfillmentPreview": fulfillment.get_fulfillment_preview,
    "createFulfillmentOrder": fulfillment.create_fulfillment_order,
    "getFulfillmentOrder": fulfillment.get_fulfillment_order,
    "updateFulfillmentOrder": fulfillment.update_fulfillment_order,
    "cancelFulfillmentOrder": fulfillment.cancel_fulfillment_order,
    "listAllFulfillmentOrders": fulfillment.list_all_fulfillment_orders,
    "submitFulfillmentOrderStatusUpdate": fulfillment.submit_status_update,
    "getPackageTrackingDetails": after_sale.get_package_tracking_details,
    "listReturnReasonCodes": after_sale.list_return_reason_codes,
    "createFulfillmentReturn": after_sale.create_fulfillment_return,
    "createReport": reports.create_report,
    "getReports": reports.get_reports,
    "getReport": reports.get_report,
    "getReportDocument": reports.get_report_document,
    "getInventorySummaries": inventory.get_inventory_summaries,
}
TICK_SECONDS = 0.25
# Keys python-amazon-sp-api adds to every POST/PUT body, whatever the operation.
CLIENT_QUIRK_KEYS = frozenset({"marketplaceIds", "MarketplaceIds"})


@dataclass(frozen=True)
class RecordedResponse:
    operation_id: str
    status_code: int
    body: Any


class AmazonSandbox:
    """One running sandbox: state, clock, faults, rate limits, notifications, recordings."""

    def __init__(self, options: AmazonSandboxOptions) -> None:
        self.options = options
        self.clock = SandboxClock(factor=options.clock_factor, start=options.clock_start)
        self.store = StateStore(options.sqlite_path)
        self.state = AmazonState(options, self.clock, self.store)
        self.state.tickers.extend(
            [fulfillment.tick, after_sale.tick, reports.tick, settlement.tick]
        )
        self.faults = FaultInjector(options.faults)
        self.rate_limiter = RateLimiter(
            self.clock.monotonic,
            enabled=options.rate_limits_enabled,
            overrides=options.rate_limit_overrides,
            scale=options.rate_limit_scale,
        )
        self.notifications = NotificationDispatcher(
            options.notification_targets, seed=options.seed, history_limit=options.history_limit
        )
        self.state.subscribe(self.notifications.publish)
        self.state.stock_observers.append(inventory.publish_availability_change)
        self.recorded: deque[RecordedResponse] = deque(maxlen=options.history_limit)
        # The authenticated calls as the handlers saw them (operation, parameters, body), for
        # tests that judge what a client asked for.
        self.calls: deque[ApiCall] = deque(maxlen=options.history_limit)
        if options.seed_amazon_orders and not self.store.keys("order"):
            orders.seed_amazon_orders(self.state)
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if options.background_ticks:
            self._ticker = threading.Thread(target=self._tick_forever, daemon=True, name="sp-tick")
            self._ticker.start()

    def _tick_forever(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.state.sync()
            except Exception:
                logger.exception("sandbox state sync failed")

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.notifications.close()
        self.store.close()

    # ---- responses ---------------------------------------------------------------------
    def respond(self, operation_id: str, status: int, body: dict[str, Any]) -> JSONResponse:
        self.recorded.append(RecordedResponse(operation_id, status, body))
        return JSONResponse(
            body,
            status,
            headers={
                "x-amzn-RateLimit-Limit": self.rate_limiter.header(operation_id),
                "x-amzn-RequestId": str(uuid.uuid4()),
            },
        )

    def error_responder(self, operation_id: str) -> Callable[[int, str, str], Response]:
        def respond_error(status: int, code: str, message: str) -> Response:
            return self.respond(operation_id, status, error_body(code, message))

        return respond_error

    # ---- the pipeline ------------------------------------------------------------------
    async def call(self, operation_id: str, handler: Handler, request: Request) -> Response:
        raw = await request.body()
        try:
            self.state.sync()
            caller = auth.authenticate(self.state, request)
            if not self.rate_limiter.try_acquire(operation_id, caller.seller_id):
                raise ApiError(
                    429, "QuotaExceeded", "You exceeded your quota for the requested resource."
                )
            body = self._body(operation_id, raw)
            call = ApiCall(
                operation_id=operation_id,
                path_params=dict(request.path_params),
                query={k: request.query_params.getlist(k) for k in request.query_params},
                body=body,
                seller_id=caller.seller_id,
                base_url=_base_url(request),
                restricted_elements=auth.restricted_elements(
                    caller, request.method, request.url.path
                ),
            )
            self.calls.append(call)
            with self.store.transaction():
                status, payload = handler(self.state, call)
        except ApiError as error:
            return self.respond(operation_id, error.status, error.body())
        except Exception:
            logger.exception("sandbox handler %s failed", operation_id)
            return self.respond(
                operation_id, 500, error_body("InternalFailure", "The sandbox failed; see its log.")
            )
        return self.respond(operation_id, status, payload)

    @staticmethod
    def _body(operation_id: str, raw: bytes) -> Any:
        op = spapi_models.operation(operation_id)
        if not any(p.get("in") == "body" for p in op.spec.get("parameters", [])):
            return None
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise invalid_input("The request body is not valid JSON.", "body") from None
        if not isinstance(body, dict):
            raise invalid_input("The request body must be a JSON object.", "body")
        body = _without_client_quirks(operation_id, body)
        try:
            spapi_models.validate_request_body(operation_id, body)
        except spapi_models.ContractError as error:
            raise invalid_input(
                f"Invalid request body: {error.errors[0]}", "; ".join(error.errors)
            ) from None
        return body


def _without_client_quirks(operation_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Drop the marketplace keys python-amazon-sp-api adds to every body, unless modelled."""
    schema = spapi_models.request_body_schema(operation_id)
    ref = schema.get("$ref", "")
    definition = schema["definitions"][ref.rsplit("/", 1)[-1]] if ref else schema
    modelled = definition.get("properties", {})
    return {k: v for k, v in body.items() if k not in CLIENT_QUIRK_KEYS or k in modelled}


def _base_url(request: Request) -> str:
    server = request.scope.get("server")
    if server and server[1] is not None:
        return f"http://{server[0]}:{server[1]}"
    return str(request.base_url).rstrip("/")


def _api_routes(sandbox: AmazonSandbox) -> list[Route]:
    routes = []
    for operation_id, handler in HANDLERS.items():
        op = spapi_models.operation(operation_id)

        def make(operation_id: str, handler: Handler) -> Callable[[Request], Any]:
            async def endpoint(request: Request) -> Response:
                return await sandbox.call(operation_id, handler, request)

            return endpoint

        routes.append(
            Route(
                op.path,
                with_faults(
                    operation_id,
                    make(operation_id, handler),
                    sandbox.error_responder(operation_id),
                    lost_response_hang_seconds=sandbox.options.lost_response_hang_seconds,
                ),
                methods=[op.method],
                name=operation_id,
            )
        )
    return routes


def create_app(options: AmazonSandboxOptions | None = None) -> Starlette:
    """A new sandbox; `app.state.sandbox` is its `AmazonSandbox` (call `.close()` when done)."""
    sandbox = AmazonSandbox(options or AmazonSandboxOptions())
    app = Starlette(
        routes=[
            Route(
                "/auth/o2/token",
                with_faults(
                    auth.LWA_OPERATION,
                    auth.lwa_token,
                    auth.lwa_error,
                    lost_response_hang_seconds=sandbox.options.lost_response_hang_seconds,
                ),
                methods=["POST"],
            ),
            *_api_routes(sandbox),
            Route("/_sandbox/documents/{document_id}", reports.serve_document, methods=["GET"]),
            *control.amazon_control_routes(),
            *control_routes(),
        ]
    )
    app.state.sandbox = sandbox
    app.state.amazon = sandbox.state
    app.state.clock = sandbox.clock
    app.state.faults = sandbox.faults
    return app
