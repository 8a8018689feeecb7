"""The Server & Direct Shared Protocol: RELEASE, ABORT, REFUND and VOID of a transaction
registered through Server, by form POST to `/gateway/service/{release|abort|refund|void}.vsp`.

Fields, from docs/reference/opayo.md ("Corrections and additions") and
omnipay-sagepay's src/Message/Shared{Capture,Abort,Refund,Void}Request.php, ebizmarts'
Model/Api/Shared.php:
- RELEASE: VPSProtocol, TxType=RELEASE, Vendor, VendorTxCode, VPSTxId, SecurityKey, TxAuthNo,
  ReleaseAmount (a decimal string in major units, e.g. `12.50`);
- ABORT, VOID: VPSProtocol, TxType, Vendor, VendorTxCode, VPSTxId, SecurityKey, TxAuthNo;
- REFUND: a new VendorTxCode, Amount, Currency, Description, RelatedVPSTxId,
  RelatedVendorTxCode, RelatedSecurityKey, RelatedTxAuthNo.
Every answer is HTTP 200 with `Key=Value` lines: VPSProtocol, Status (OK | MALFORMED |
INVALID | ERROR), StatusDetail (`NNNN : text`, as ebizmarts splits it); a refund's answer adds
the refund's own VPSTxId and TxAuthNo. A post from an address not on the vendor's Valid IPs
is refused with 4020 (sandbox/opayo/valid_ips.py). The business rules (release once, never
above the authorised amount, abort only before release, refunds never above what was taken,
void the same day) are the Pi rules of sandbox/opayo/transactions.py. A Server transaction
whose notification was answered INVALID or ERROR was cancelled and takes no instruction; one
still waiting for the answer (txstateid 7) takes them (our assumption: nothing public says).

Status codes other than 4020 and the wording of refusals are the sandbox's own (our
assumption); connectors should key on Status and the field named in StatusDetail.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.common.faults import with_faults
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.errors import PiError
from sandbox.opayo.forms import FormError, read_form
from sandbox.opayo.money import is_supported_currency, parse_decimal_amount
from sandbox.opayo.outcomes import OK
from sandbox.opayo.server_completion import PROTOCOL
from sandbox.opayo.server_integration import server_fault_response
from sandbox.opayo.state import (
    Record,
    new_security_key,
    new_transaction_id,
    transaction_id_from_vps,
)
from sandbox.opayo.transactions import apply_instruction, apply_outcome, new_record
from sandbox.opayo.transactions import check_reference_for_refund as check_refund
from sandbox.opayo.valid_ips import refuse_unregistered

REFERENCE_FIELDS = ("VendorTxCode", "VPSTxId", "SecurityKey", "TxAuthNo")
REFUND_FIELDS = (
    "VendorTxCode",
    "Amount",
    "Currency",
    "Description",
    "RelatedVPSTxId",
    "RelatedVendorTxCode",
    "RelatedSecurityKey",
    "RelatedTxAuthNo",
)
REFUND_SUCCESS = "0000 : The Refund was Successful."


# rule: OPAYO-SHP-13
class SharedRefusal(Exception):
    def __init__(self, status: str, code: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


# rule: OPAYO-SHP-07
def reply(lines: dict[str, str]) -> PlainTextResponse:
    return PlainTextResponse("".join(f"{name}={value}\r\n" for name, value in lines.items()))


def _malformed(detail: str) -> SharedRefusal:
    return SharedRefusal("MALFORMED", 3000, detail)


def _invalid(code: int, detail: str) -> SharedRefusal:
    return SharedRefusal("INVALID", code, detail)


# rule: OPAYO-SHP-01
def _check_header(fields: dict[str, str], tx_type: str, context: SandboxContext) -> None:
    for name in ("VPSProtocol", "TxType", "Vendor"):
        if not fields.get(name, "").strip():
            raise _malformed(f"The {name} field is missing.")
    if fields["VPSProtocol"] not in ("3.00", "4.00"):
        raise _invalid(3001, "The VPSProtocol field must be 3.00 or 4.00.")
    if fields["TxType"].strip().upper() != tx_type:
        raise _invalid(3002, f"The TxType field must be {tx_type} on this URL.")
    if not hmac.compare_digest(fields["Vendor"].lower(), context.options.vendor.lower()):
        raise _invalid(3003, "The Vendor field does not match a vendor account.")


def _referenced(context: SandboxContext, fields: dict[str, str], prefix: str = "") -> Record:
    """The Server transaction these fields name, checked field by field."""
    # rule: OPAYO-SHP-05
    for name in REFERENCE_FIELDS:
        if not fields.get(prefix + name, "").strip():
            raise _malformed(f"The {prefix}{name} field is missing.")
    record = context.state.transaction(transaction_id_from_vps(fields[prefix + "VPSTxId"]))
    server = (record or {}).get("server")
    if record is None or not server:
        raise _invalid(4004, f"The {prefix}VPSTxId does not match a Server transaction.")
    if fields[prefix + "VendorTxCode"] != record["vendorTxCode"]:
        raise _invalid(4005, f"The {prefix}VendorTxCode does not match the {prefix}VPSTxId.")
    key = fields[prefix + "SecurityKey"].encode()
    if not hmac.compare_digest(key, str(server["securityKey"]).encode()):
        raise _invalid(4006, f"The {prefix}SecurityKey does not match the transaction.")
    auth = fields[prefix + "TxAuthNo"].encode()
    expected = str(server.get("txAuthNo") or "").encode()
    if not expected or not hmac.compare_digest(auth, expected):
        raise _invalid(4007, f"The {prefix}TxAuthNo does not match the transaction.")
    # rule: OPAYO-SHP-09
    if server.get("vendorCancelled"):
        raise _invalid(
            4008,
            "The transaction was cancelled: its notification was answered INVALID or ERROR.",
        )
    # rule: OPAYO-SHP-10
    # A notification still waiting for its answer (txstateid 7) does not stop an instruction.
    return record


# rule: OPAYO-SHP-08
def _apply(context: SandboxContext, record: Record, instruction: str, amount: int | None) -> None:
    try:
        apply_instruction(context, record, instruction, amount)
    except PiError as error:
        raise _invalid(4009, _description(error)) from None


def _description(error: PiError) -> str:
    errors = error.body.get("errors")
    if isinstance(errors, list) and errors:
        return str(errors[0]["description"])
    return str(error.body.get("description", "refused"))


def _ok(detail: str, **extra: str) -> PlainTextResponse:
    return reply({"VPSProtocol": PROTOCOL, "Status": "OK", "StatusDetail": detail, **extra})


# rule: OPAYO-SHP-02
async def release(request: Request, context: SandboxContext) -> Response:
    fields = await _form(request)
    _check_header(fields, "RELEASE", context)
    if not fields.get("ReleaseAmount", "").strip():
        raise _malformed("The ReleaseAmount field is missing.")
    with context.state.store.transaction():
        record = _referenced(context, fields)
        try:
            amount = parse_decimal_amount(fields["ReleaseAmount"], record["currency"])
        except ValueError as error:
            raise _invalid(3006, f"The ReleaseAmount field is invalid: {error}.") from None
        if amount <= 0:
            raise _invalid(3006, "The ReleaseAmount field must be greater than zero.")
        _apply(context, record, "release", amount)
        context.state.save_transaction(record)
    return _ok("0000 : The transaction was RELEASEd successfully.")


# rule: OPAYO-SHP-03
async def abort(request: Request, context: SandboxContext) -> Response:
    fields = await _form(request)
    _check_header(fields, "ABORT", context)
    with context.state.store.transaction():
        record = _referenced(context, fields)
        _apply(context, record, "abort", None)
        context.state.save_transaction(record)
    return _ok("0000 : The transaction was ABORTed successfully.")


async def void(request: Request, context: SandboxContext) -> Response:
    fields = await _form(request)
    _check_header(fields, "VOID", context)
    with context.state.store.transaction():
        record = _referenced(context, fields)
        _apply(context, record, "void", None)
        context.state.save_transaction(record)
    return _ok("0000 : The transaction was VOIDed successfully.")


# rule: OPAYO-SHP-04
async def refund(request: Request, context: SandboxContext) -> Response:
    fields = await _form(request)
    _check_header(fields, "REFUND", context)
    for name in REFUND_FIELDS:
        if not fields.get(name, "").strip():
            raise _malformed(f"The {name} field is missing.")
    vendor_tx_code = fields["VendorTxCode"]
    if len(vendor_tx_code) > 40:
        raise _invalid(3004, "The VendorTxCode field is longer than 40 characters.")
    if len(fields["Description"]) > 100:
        raise _invalid(3007, "The Description field is longer than 100 characters.")
    currency = fields["Currency"].upper()
    if not is_supported_currency(currency):
        raise _invalid(3005, "The Currency field is not a supported ISO 4217 code.")
    try:
        amount = parse_decimal_amount(fields["Amount"], currency)
    except ValueError as error:
        raise _invalid(3006, f"The Amount field is invalid: {error}.") from None
    if amount <= 0:
        raise _invalid(3006, "The Amount field must be greater than zero.")
    with context.state.store.transaction():
        reference = _referenced(context, fields, prefix="Related")
        if context.state.transaction_by_vendor_tx_code(vendor_tx_code) is not None:
            raise _invalid(4042, "The VendorTxCode has been used before.")
        try:
            check_refund(context, reference, amount, currency)
        except PiError as error:
            raise _invalid(4009, _description(error)) from None
        transaction_id = new_transaction_id()
        record = new_record(
            context,
            transaction_id=transaction_id,
            transaction_type="Refund",
            vendor_tx_code=vendor_tx_code,
            amount=amount,
            currency=currency,
            description=fields["Description"],
            outcome=OK,
            integration="server",
        )
        record["card"] = reference["card"]
        record["referenceTransactionId"] = reference["transactionId"]
        # Its own key and authorisation number, which a VOID of the refund must quote.
        record["server"] = {
            "txType": "REFUND",
            "status": "OK",
            "securityKey": new_security_key(),
            "txAuthNo": str(record["retrievalReference"]),
            "vendorReply": "OK",
            "notificationUrl": None,
            "completedAt": record["createdAt"],
        }
        apply_outcome(record, OK, context.clock.now())
        reference["refundIds"].append(transaction_id)
        context.state.save_transaction(reference)
        context.state.claim_vendor_tx_code(vendor_tx_code, transaction_id)
        context.state.save_transaction(record)
    return _ok(REFUND_SUCCESS, VPSTxId=record["vpsTxId"], TxAuthNo=record["server"]["txAuthNo"])


async def _form(request: Request) -> dict[str, str]:
    try:
        return await read_form(request)
    except FormError as error:
        raise _malformed(f"The request is not a form: {error}.") from None


Handler = Callable[[Request, SandboxContext], Awaitable[Response]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        context: SandboxContext = request.app.state.opayo
        response: Response | None = refuse_unregistered(request, PROTOCOL)
        if response is None:
            try:
                response = await handler(request, context)
            except SharedRefusal as refusal:
                response = reply(
                    {
                        "VPSProtocol": PROTOCOL,
                        "Status": refusal.status,
                        "StatusDetail": f"{refusal.code} : {refusal.detail}",
                    }
                )
        assert response is not None
        _log_post(context, request, await request.body(), response)
        return response

    return endpoint


def _log_post(context: SandboxContext, request: Request, body: bytes, response: Response) -> None:
    fields = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    answer = dict(
        line.split("=", 1) for line in bytes(response.body).decode().splitlines() if "=" in line
    )
    context.shared_posts.append(
        {
            "at": context.clock.now().isoformat(),
            "service": request.url.path.rsplit("/", 1)[-1],
            "txType": fields.get("TxType", ""),
            "vendorTxCode": fields.get("VendorTxCode", ""),
            "vpsTxId": fields.get("VPSTxId") or fields.get("RelatedVPSTxId", ""),
            "relatedVendorTxCode": fields.get("RelatedVendorTxCode", ""),
            "amount": fields.get("ReleaseAmount") or fields.get("Amount", ""),
            "from": request.client.host if request.client else "",
            "status": answer.get("Status", ""),
            "statusDetail": answer.get("StatusDetail", ""),
        }
    )


# rule: OPAYO-SBX-06
async def list_posts(request: Request) -> JSONResponse:
    """`GET /_sandbox/shared-protocol[?vendorTxCode=]`: the posts naming that transaction."""
    context: SandboxContext = request.app.state.opayo
    wanted = request.query_params.get("vendorTxCode")
    posts = [
        post
        for post in context.shared_posts
        if wanted is None or wanted in (post["vendorTxCode"], post["relatedVendorTxCode"])
    ]
    return JSONResponse({"posts": posts})


def shared_protocol_routes(lost_response_hang_seconds: float) -> list[Route]:
    handlers: dict[str, Handler] = {
        "release": release,
        "abort": abort,
        "refund": refund,
        "void": void,
    }
    return [
        Route("/_sandbox/shared-protocol", list_posts, methods=["GET"]),
        *(
            Route(
                f"/gateway/service/{name}.vsp",
                with_faults(
                    f"shared-{name}",
                    _endpoint(handler),
                    server_fault_response,
                    lost_response_hang_seconds=lost_response_hang_seconds,
                ),
                methods=["POST"],
            )
            for name, handler in handlers.items()
        ),
    ]
