"""Opayo Server integration: transaction registration, the hosted payment page's stand-in,
and the sandbox-only route that completes a registration as the shopper would.

Registration answers in Opayo's own way: HTTP 200, plain-text `Name=Value` lines separated by
CRLF, with `Status=MALFORMED|INVALID` and a `StatusDetail` naming the field on bad input.
"""

from __future__ import annotations

import hmac
import html
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.common.faults import with_faults
from sandbox.opayo.cards import (
    CardRejected,
    check_expiry,
    check_security_code,
    identify_test_card,
)
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.forms import FormError, read_form
from sandbox.opayo.money import is_supported_currency, parse_decimal_amount
from sandbox.opayo.outcomes import (
    CHALLENGE,
    OK,
    REGISTERED,
    SERVER_OUTCOMES,
    decide_authorisation,
)
from sandbox.opayo.server_completion import PROTOCOL, complete_registration
from sandbox.opayo.state import (
    PENDING_REGISTRATION,
    iso,
    new_security_key,
    new_transaction_id,
    transaction_id_from_vps,
)
from sandbox.opayo.transactions import new_record
from sandbox.opayo.valid_ips import refuse_unregistered

REQUIRED_FIELDS = (
    "VPSProtocol",
    "TxType",
    "Vendor",
    "VendorTxCode",
    "Amount",
    "Currency",
    "Description",
    "NotificationURL",
    "BillingSurname",
    "BillingFirstnames",
    "BillingAddress1",
    "BillingCity",
    "BillingCountry",
    "DeliverySurname",
    "DeliveryFirstnames",
    "DeliveryAddress1",
    "DeliveryCity",
    "DeliveryCountry",
)
TX_TYPES = {"PAYMENT": "Payment", "DEFERRED": "Deferred", "TOKEN": "Token"}
# rule: OPAYO-SRV-06
# A TOKEN registration stores a card and takes no money: omnipay-sagepay's
# ServerTokenRegistrationRequest sends only these (plus VPSProtocol, TxType, Vendor).
TOKEN_REQUIRED_FIELDS = (
    "VPSProtocol",
    "TxType",
    "Vendor",
    "VendorTxCode",
    "Currency",
    "NotificationURL",
)


def server_reply(lines: dict[str, str]) -> PlainTextResponse:
    return PlainTextResponse("".join(f"{name}={value}\r\n" for name, value in lines.items()))


# rule: OPAYO-SRV-02
def _refusal(status: str, code: int, detail: str) -> PlainTextResponse:
    return server_reply(
        {"VPSProtocol": PROTOCOL, "Status": status, "StatusDetail": f"{code} : {detail}"}
    )


def server_fault_response(status: int, code: str, message: str) -> Response:
    return PlainTextResponse(
        f"VPSProtocol={PROTOCOL}\r\nStatus=ERROR\r\nStatusDetail=5003 : {message} ({code})\r\n",
        status_code=status,
    )


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# rule: OPAYO-SRV-01
async def register(request: Request) -> Response:
    context: SandboxContext = request.app.state.opayo
    refused = refuse_unregistered(request, PROTOCOL)
    if refused is not None:
        return refused
    try:
        fields = await read_form(request)
    except FormError as error:
        return _refusal("MALFORMED", 3000, f"The request is not a form: {error}.")
    tx_type = fields.get("TxType", "").strip().upper()
    required = TOKEN_REQUIRED_FIELDS if tx_type == "TOKEN" else REQUIRED_FIELDS
    for name in required:
        if not fields.get(name, "").strip():
            return _refusal("MALFORMED", 3000, f"The {name} field is missing.")
    if fields["VPSProtocol"] not in ("3.00", "4.00"):
        return _refusal("INVALID", 3001, "The VPSProtocol field must be 3.00 or 4.00.")
    if tx_type not in TX_TYPES:
        return _refusal("INVALID", 3002, "The TxType field must be PAYMENT, DEFERRED or TOKEN.")
    if not hmac.compare_digest(fields["Vendor"].lower(), context.options.vendor.lower()):
        return _refusal("INVALID", 3003, "The Vendor field does not match a vendor account.")
    vendor_tx_code = fields["VendorTxCode"]
    if len(vendor_tx_code) > 40:
        return _refusal("INVALID", 3004, "The VendorTxCode field is longer than 40 characters.")
    currency = fields["Currency"].upper()
    if not is_supported_currency(currency):
        return _refusal("INVALID", 3005, "The Currency field is not a supported ISO 4217 code.")
    try:
        amount = 0 if tx_type == "TOKEN" else parse_decimal_amount(fields["Amount"], currency)
    except ValueError as error:
        return _refusal("INVALID", 3006, f"The Amount field is invalid: {error}.")
    if amount <= 0 and tx_type != "TOKEN":
        return _refusal("INVALID", 3006, "The Amount field must be greater than zero.")
    if len(fields.get("Description", "")) > 100:
        return _refusal("INVALID", 3007, "The Description field is longer than 100 characters.")
    if not _valid_url(fields["NotificationURL"]):
        return _refusal("INVALID", 3008, "The NotificationURL field must be an http(s) URL.")

    with context.state.store.transaction():
        if context.state.transaction_by_vendor_tx_code(vendor_tx_code) is not None:
            return _refusal("INVALID", 4042, "The VendorTxCode has been used before.")
        transaction_id = new_transaction_id()
        record = new_record(
            context,
            transaction_id=transaction_id,
            transaction_type=TX_TYPES[tx_type],
            vendor_tx_code=vendor_tx_code,
            amount=amount,
            currency=currency,
            description=fields.get("Description", ""),
            outcome=REGISTERED,
            integration="server",
        )
        security_key = new_security_key()
        record["server"] = {
            "txType": tx_type,
            "status": "REGISTERED",
            "securityKey": security_key,
            "notificationUrl": fields["NotificationURL"],
            "completedAt": None,
            # Kept as match flags only, for the AVS result of the notification.
            "addressMatched": "88" in fields.get("BillingAddress1", ""),
            "postcodeMatched": "412" in fields.get("BillingPostCode", ""),
        }
        context.state.claim_vendor_tx_code(vendor_tx_code, transaction_id)
        context.state.save_transaction(record)
        context.state.store.put(
            PENDING_REGISTRATION, transaction_id, {"createdAt": record["createdAt"]}
        )
    if context.dispatcher is not None:
        context.dispatcher.ensure_started()
    next_url = f"{str(request.base_url).rstrip('/')}/gateway/service/cardselection"
    return server_reply(
        {
            "VPSProtocol": PROTOCOL,
            "Status": "OK",
            "StatusDetail": f"{REGISTERED.status_code} : {REGISTERED.status_detail}",
            "VPSTxId": record["vpsTxId"],
            "SecurityKey": security_key,
            "NextURL": f"{next_url}?vpstxid={record['vpsTxId']}",
        }
    )


async def card_selection(request: Request) -> Response:
    """The hosted payment page's stand-in: tells a human how to finish the payment."""
    vps = html.escape(request.query_params.get("vpstxid", ""))
    return HTMLResponse(
        "<!doctype html><title>Opayo sandbox payment page</title>"
        "<p>This sandbox has no card form. Finish the payment with "
        f"<code>POST /_sandbox/server/{vps}/complete</code> "
        '<code>{"card": "4929000000006", "outcome": "OK"}</code>.</p>'
    )


class CompleteRequest(BaseModel):
    card: str | None = None
    expiryDate: str = "1230"
    securityCode: str | None = "123"
    cardholderName: str = ""
    outcome: str | None = Field(default=None, description="OK, NOTAUTHED, REJECTED, ABORT, ERROR")
    # The bank's words for the notification's StatusDetail (sent as ISO-8859-1, e.g. "é").
    statusDetail: str | None = Field(default=None, max_length=200)


def _bad(property_name: str, description: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"error": description, "property": property_name}, status)


# rule: OPAYO-SBX-03
async def complete(request: Request) -> Response:
    context: SandboxContext = request.app.state.opayo
    try:
        body = CompleteRequest.model_validate_json(await request.body())
    except ValidationError as error:
        return JSONResponse(
            {"error": "invalid request", "details": error.errors(include_url=False)}, 422
        )
    if body.outcome is not None and body.outcome.upper() not in SERVER_OUTCOMES:
        allowed = ", ".join(SERVER_OUTCOMES)
        return _bad("outcome", f"outcome must be one of {allowed}")
    requested = SERVER_OUTCOMES[body.outcome.upper()] if body.outcome else None
    card = None
    code_matched = False
    now = context.clock.now()
    if requested is None or requested.server_status != "ABORT":
        try:
            card = identify_test_card(body.card, property_name="card")
            check_expiry(body.expiryDate, now, property_name="expiryDate")
            code_matched = check_security_code(body.securityCode, property_name="securityCode")
        except CardRejected as rejected:
            return _bad(rejected.property, rejected.description)
    transaction_id = transaction_id_from_vps(request.path_params["vps_tx_id"])
    with context.state.store.transaction():
        record = context.state.transaction(transaction_id)
        if record is None or record.get("server") is None:
            return _bad("VPSTxId", "No Server-integration transaction with this VPSTxId", 404)
        if record["server"]["status"] != "REGISTERED":
            return _bad("VPSTxId", f"The transaction is already {record['server']['status']}", 409)
        if requested is None:
            server = record["server"]
            decided = decide_authorisation(
                amount=record["amount"],
                cardholder_name=body.cardholderName,
                avs_cvc_all_matched=server["addressMatched"]
                and server["postcodeMatched"]
                and code_matched,
                apply_avs_cvc_check="UseMSPSetting",
                apply_3d_secure="UseMSPSetting",
            )
            # rule: OPAYO-SRV-07
            # On the hosted page the shopper passes the challenge there and then.
            requested = OK if decided is CHALLENGE else decided
        complete_registration(
            context,
            record,
            requested,
            card=card,
            expiry_date=body.expiryDate,
            security_code_matched=code_matched,
            status_detail=body.statusDetail,
        )
    result: dict[str, Any] = {
        "vpsTxId": record["vpsTxId"],
        "transactionId": record["transactionId"],
        "status": record["server"]["status"],
        "completedAt": iso(now),
    }
    return JSONResponse(result, 200)


def server_routes(lost_response_hang_seconds: float) -> list[Route]:
    return [
        Route(
            "/gateway/service/vspserver-register.vsp",
            with_faults(
                "server-register",
                register,
                server_fault_response,
                lost_response_hang_seconds=lost_response_hang_seconds,
            ),
            methods=["POST"],
        ),
        # omnipay-sagepay posts TOKEN registrations to token.vsp (ServerGateway, action TOKEN).
        Route(
            "/gateway/service/token.vsp",
            with_faults(
                "server-register",
                register,
                server_fault_response,
                lost_response_hang_seconds=lost_response_hang_seconds,
            ),
            methods=["POST"],
        ),
        Route("/gateway/service/cardselection", card_selection, methods=["GET"]),
        Route("/_sandbox/server/{vps_tx_id}/complete", complete, methods=["POST"]),
    ]
