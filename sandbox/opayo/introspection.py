"""`/_sandbox/...` routes that let tests and the demo look inside the Opayo sandbox.

`GET /_sandbox/transactions[?vendorTxCode=]`, `GET /_sandbox/transactions/{vendorTxCode}`,
`GET /_sandbox/notifications[?vendorTxCode=]`, `GET|POST /_sandbox/notifications/faults`,
`GET /_sandbox/batches`. Security keys are never shown.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.opayo.context import SandboxContext
from sandbox.opayo.options import NotificationFaults
from sandbox.opayo.settlement import batches, settle
from sandbox.opayo.state import NOTIFICATION, Record
from sandbox.opayo.three_d_secure import expire_abandoned_challenges
from sandbox.opayo.transactions import captured_amount, refunded_amount


def _context(request: Request) -> SandboxContext:
    context: SandboxContext = request.app.state.opayo
    return context


def transaction_view(context: SandboxContext, record: Record) -> dict[str, Any]:
    view = dict(record)
    if view.get("server"):
        view["server"] = {k: v for k, v in view["server"].items() if k != "securityKey"}
    captured = captured_amount(record)
    refunds = [context.state.transaction(refund_id) for refund_id in record["refundIds"]]
    standing = [r for r in refunds if r and r["status"] == "Ok" and not r["voided"]]
    view.update(
        capturedAmount=captured,
        captureCount=1 if captured else 0,
        refundedAmount=refunded_amount(context, record),
        refundCount=len(standing),
    )
    return view


async def list_transactions(request: Request) -> JSONResponse:
    context = _context(request)
    expire_abandoned_challenges(context)
    settle(context)
    wanted = request.query_params.get("vendorTxCode")
    records = [
        transaction_view(context, record)
        for record in context.state.transactions()
        if wanted is None or record["vendorTxCode"] == wanted
    ]
    return JSONResponse({"transactions": records})


async def get_transaction(request: Request) -> JSONResponse:
    context = _context(request)
    expire_abandoned_challenges(context)
    settle(context)
    record = context.state.transaction_by_vendor_tx_code(request.path_params["vendor_tx_code"])
    if record is None:
        return JSONResponse({"error": "no transaction with this vendorTxCode"}, 404)
    return JSONResponse(transaction_view(context, record))


async def list_notifications(request: Request) -> JSONResponse:
    context = _context(request)
    wanted = request.query_params.get("vendorTxCode")
    notifications = sorted(
        (
            n
            for n in context.state.store.all(NOTIFICATION)
            if wanted is None or n["vendorTxCode"] == wanted
        ),
        key=lambda n: n["sequence"],
    )
    return JSONResponse({"notifications": notifications})


async def get_notification_faults(request: Request) -> JSONResponse:
    dispatcher = _context(request).dispatcher
    faults = dispatcher.faults if dispatcher is not None else NotificationFaults()
    return JSONResponse(faults.model_dump(mode="json"))


# rule: OPAYO-SBX-04
async def set_notification_faults(request: Request) -> JSONResponse:
    try:
        faults = NotificationFaults.model_validate_json(await request.body())
    except ValidationError as error:
        return JSONResponse(
            {"error": "invalid request", "details": error.errors(include_url=False)}, 400
        )
    dispatcher = _context(request).dispatcher
    if dispatcher is not None:
        dispatcher.configure(faults)
        dispatcher.ensure_started()
    return JSONResponse(faults.model_dump(mode="json"))


async def list_batches(request: Request) -> JSONResponse:
    return JSONResponse({"batches": batches(_context(request))})


# rule: OPAYO-SBX-01
def introspection_routes() -> list[Route]:
    return [
        Route("/_sandbox/transactions", list_transactions, methods=["GET"]),
        Route("/_sandbox/transactions/{vendor_tx_code}", get_transaction, methods=["GET"]),
        Route("/_sandbox/notifications", list_notifications, methods=["GET"]),
        Route("/_sandbox/notifications/faults", get_notification_faults, methods=["GET"]),
        Route("/_sandbox/notifications/faults", set_notification_faults, methods=["POST"]),
        Route("/_sandbox/batches", list_batches, methods=["GET"]),
    ]
