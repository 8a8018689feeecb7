"""3-D Secure 2 on the Pi API: the `strongCustomerAuthentication` object, the cardholder-name
magic of Opayo's test gateway, a stand-in ACS, and challenges that are never finished.

The flow (docs/sandbox-opayo.md, "3-D Secure 2 (SCA)", names the source of each rule):
1. `POST /transactions` (Ecommerce Payment or Deferred) must carry `strongCustomerAuthentication`.
   Cardholder name `CHALLENGE` answers 202 `3DAuth` / `2021` with `acsUrl` and `cReq`;
   `SUCCESSFUL` passes frictionless; `NOTAUTH` fails frictionless.
2. The shopper's browser posts `creq` (and the merchant's `threeDSSessionData`) to `acsUrl`:
   this module's `POST /_sandbox/acs` answers a small challenge page.
3. Submitting that page (`POST /_sandbox/acs/{acsTransID}`, `outcome=authenticate|fail`)
   answers an auto-submitting form that posts `cres` and `threeDSSessionData` to the
   transaction's `notificationURL`, as an ACS does through the shopper's browser.
4. The merchant posts `{cRes, threeDSSessionData}` to `/transactions/{id}/3d-secure-challenge`.

A challenge left unfinished for `pi_challenge_timeout` seconds on the sandbox clock is
cancelled (Rejected, 3DSecure `Incomplete`): checked lazily whenever the transaction is read.
"""

from __future__ import annotations

import base64
import binascii
import html
import ipaddress
import json
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sandbox.opayo import errors
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.outcomes import CHALLENGE, Outcome
from sandbox.opayo.state import Record, iso, parse_iso
from sandbox.opayo.validation import BodyChecker

SCA = "strongCustomerAuthentication"
CHALLENGE_WINDOW_SIZES = ("Small", "Medium", "Large", "ExtraLarge", "FullScreen")
TRANS_TYPES = (
    "GoodsAndServicePurchase",
    "CheckAcceptance",
    "AccountFunding",
    "QuasiCashTransaction",
    "PrepaidActivationAndLoad",
)
COLOR_DEPTHS = (1, 4, 8, 15, 16, 24, 32, 48)
# EMV 3DS challengeWindowSize codes, for the CReq the ACS receives.
_WINDOW_CODES = dict(zip(CHALLENGE_WINDOW_SIZES, ("01", "02", "03", "04", "05"), strict=True))
MESSAGE_VERSION = "2.1.0"

# rule: OPAYO-SCA-05
# Opayo's test gateway reads the 3-D Secure outcome from the cardholder name.
NAME_CHALLENGE = "CHALLENGE"
NAME_SUCCESSFUL = "SUCCESSFUL"
NAME_NOT_AUTHENTICATED = "NOTAUTH"
MAGIC_NAMES = (NAME_CHALLENGE, NAME_SUCCESSFUL, NAME_NOT_AUTHENTICATED)

ABANDONED_3DS = Outcome(
    "Rejected",
    "2013",
    "The 3-D Secure challenge was not completed in time; the transaction was cancelled.",
    403,
    "ABORT",
)


def magic_name(cardholder_name: str) -> str:
    """The 3-D Secure magic word in a cardholder name, or "" for any other name."""
    name = cardholder_name.strip().upper()
    return name if name in MAGIC_NAMES else ""


# -- the strongCustomerAuthentication object ----------------------------------------------------


def check_strong_customer_authentication(checker: BodyChecker) -> None:
    """Every field of the object, each refusal naming `strongCustomerAuthentication.<field>`."""
    # rule: OPAYO-SCA-01
    if not isinstance(checker.body.get(SCA), dict):
        if SCA in checker.body and checker.body[SCA] is not None:
            checker.fail(SCA, "Invalid type: must be an object", errors.INVALID_TYPE)
        else:
            checker.fail(
                SCA,
                "Missing mandatory field: an Ecommerce transaction needs the shopper's browser "
                "data for 3-D Secure 2",
                errors.MISSING_FIELD,
            )
        return
    # rule: OPAYO-SCA-04
    url = checker.string(f"{SCA}.notificationURL", max_length=256)
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        checker.fail(f"{SCA}.notificationURL", "Invalid value: must be an http(s) URL")
    ip = checker.string(f"{SCA}.browserIP", max_length=39)
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            checker.fail(f"{SCA}.browserIP", "Invalid value: must be an IPv4 or IPv6 address")
    checker.string(f"{SCA}.browserAcceptHeader", max_length=2048)
    javascript = checker.boolean(f"{SCA}.browserJavascriptEnabled")
    checker.string(f"{SCA}.browserLanguage", max_length=8)
    checker.string(f"{SCA}.browserUserAgent", max_length=2048)
    checker.string(f"{SCA}.challengeWindowSize", choices=CHALLENGE_WINDOW_SIZES)
    checker.string(f"{SCA}.transType", choices=TRANS_TYPES)
    checker.boolean(f"{SCA}.browserJavaEnabled", required=False)
    if javascript:
        depth = checker.whole_number(f"{SCA}.browserColorDepth")
        if depth is not None and depth not in COLOR_DEPTHS:
            checker.fail(
                f"{SCA}.browserColorDepth",
                f"Invalid value: must be one of {', '.join(map(str, COLOR_DEPTHS))}",
            )
        checker.whole_number(f"{SCA}.browserScreenHeight", minimum=1)
        checker.whole_number(f"{SCA}.browserScreenWidth", minimum=1)
        checker.whole_number(f"{SCA}.browserTZ")


# -- challenge messages (EMV 3DS CReq / CRes, base64url JSON) ----------------------------------


def _encode(message: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(message).encode()).decode().rstrip("=")


def decode_message(text: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        message = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


# rule: OPAYO-SCA-06
def open_challenge(record: Record, body: dict[str, Any], acs_url: str) -> None:
    """Remember what the ACS and the 3d-secure-challenge call need; set acsUrl and cReq."""
    sca = body[SCA]
    acs_trans_id = str(uuid.uuid4())
    server_trans_id = str(uuid.uuid4())
    record["threeDSecure"] = {
        "acsTransID": acs_trans_id,
        "threeDSServerTransID": server_trans_id,
        "notificationURL": sca["notificationURL"],
        "acsUrl": acs_url,
        "cReq": _encode(
            {
                "threeDSServerTransID": server_trans_id,
                "acsTransID": acs_trans_id,
                "challengeWindowSize": _WINDOW_CODES[sca["challengeWindowSize"]],
                "messageType": "CReq",
                "messageVersion": MESSAGE_VERSION,
            }
        ),
        "cresIssued": None,
    }


def challenge_view(record: Record) -> dict[str, Any]:
    """The `acsUrl` and `cReq` of a transaction awaiting its challenge."""
    secure = record.get("threeDSecure") or {}
    return {"acsUrl": secure.get("acsUrl"), "cReq": secure.get("cReq")}


def read_cres(record: Record, c_res: str) -> str | None:
    """The transStatus (Y/N) of a CRes the ACS issued for this transaction, else None."""
    message = decode_message(c_res)
    secure = record.get("threeDSecure") or {}
    if (
        message is None
        or message.get("messageType") != "CRes"
        or message.get("acsTransID") != secure.get("acsTransID")
        or message.get("transStatus") not in ("Y", "N")
    ):
        return None
    return str(message["transStatus"])


# rule: OPAYO-SCA-09
def expire_if_abandoned(context: SandboxContext, record: Record) -> bool:
    """Cancel a challenge left unfinished too long; True when this call cancelled it."""
    if record.get("status") != CHALLENGE.status or record.get("integration") != "pi":
        return False
    limit = timedelta(seconds=context.options.pi_challenge_timeout)
    now = context.clock.now()
    if parse_iso(record["createdAt"]) + limit > now:
        return False
    from sandbox.opayo.transactions import apply_outcome

    apply_outcome(record, ABANDONED_3DS, now)
    record["threeDSecureStatus"] = "Incomplete"
    record["threeDSecure"]["abandonedAt"] = iso(now)
    context.state.save_transaction(record)
    return True


def expire_abandoned_challenges(context: SandboxContext) -> None:
    with context.state.store.transaction():
        for record in context.state.transactions():
            expire_if_abandoned(context, record)


# -- the stand-in ACS (what the shopper's browser talks to) -------------------------------------


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body>{body}</body></html>",
        status,
    )


def _hidden(name: str, value: str) -> str:
    return f"<input type='hidden' name='{html.escape(name)}' value='{html.escape(value)}'>"


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


def _awaiting(context: SandboxContext, acs_trans_id: str) -> Record | None:
    for record in context.state.transactions():
        secure = record.get("threeDSecure") or {}
        if secure.get("acsTransID") == acs_trans_id:
            expire_if_abandoned(context, record)
            return record if record["status"] == CHALLENGE.status else None
    return None


# rule: OPAYO-SCA-07
async def acs_challenge_page(request: Request) -> Response:
    """The issuer's challenge page: the browser posts `creq` and `threeDSSessionData` here."""
    context: SandboxContext = request.app.state.opayo
    form = await _form(request)
    message = decode_message(form.get("creq", ""))
    if message is None or message.get("messageType") != "CReq":
        return _page("3-D Secure", "<p>The creq field is missing or not a CReq.</p>", 400)
    record = _awaiting(context, str(message.get("acsTransID", "")))
    if record is None:
        return _page("3-D Secure", "<p>No challenge is waiting for this CReq.</p>", 404)
    session_data = form.get("threeDSSessionData", "")
    action = f"{request.base_url}_sandbox/acs/{message['acsTransID']}"
    return _page(
        "3-D Secure challenge",
        f"<h1>Sandbox bank: confirm your payment of {record['amount']} "
        f"{html.escape(record['currency'])}</h1>"
        f"<form method='post' action='{html.escape(action)}'>"
        f"{_hidden('threeDSSessionData', session_data)}"
        "<button name='outcome' value='authenticate'>Authenticate</button>"
        "<button name='outcome' value='fail'>Fail authentication</button></form>",
    )


# rule: OPAYO-SCA-08
async def acs_challenge_result(request: Request) -> Response:
    """The shopper answered: post `cres` (and `threeDSSessionData`) to the notificationURL."""
    context: SandboxContext = request.app.state.opayo
    form = await _form(request)
    outcome = form.get("outcome")
    if outcome not in ("authenticate", "fail"):
        return _page("3-D Secure", "<p>outcome must be authenticate or fail.</p>", 400)
    with context.state.store.transaction():
        record = _awaiting(context, request.path_params["acs_trans_id"])
        if record is None:
            return _page("3-D Secure", "<p>No challenge is waiting here.</p>", 404)
        secure = record["threeDSecure"]
        c_res = _encode(
            {
                "threeDSServerTransID": secure["threeDSServerTransID"],
                "acsTransID": secure["acsTransID"],
                "messageType": "CRes",
                "messageVersion": MESSAGE_VERSION,
                "transStatus": "Y" if outcome == "authenticate" else "N",
            }
        )
        secure["cresIssued"] = iso(context.clock.now())
        context.state.save_transaction(record)
    fields = _hidden("cres", c_res)
    if "threeDSSessionData" in form:
        fields += _hidden("threeDSSessionData", form["threeDSSessionData"])
    return _page(
        "Returning to the shop",
        f"<form id='return' method='post' action='{html.escape(secure['notificationURL'])}'>"
        f"{fields}<noscript><button>Continue</button></noscript></form>"
        "<script>document.getElementById('return').submit()</script>",
    )


def acs_routes() -> list[Route]:
    return [
        Route("/_sandbox/acs", acs_challenge_page, methods=["POST"]),
        Route("/_sandbox/acs/{acs_trans_id}", acs_challenge_result, methods=["POST"]),
    ]
