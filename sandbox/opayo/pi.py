"""Opayo Pi REST (`/api/v1`): merchant session keys, card identifiers, transactions,
instructions and the 3-D Secure challenge result."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.common.faults import with_faults
from sandbox.opayo import errors
from sandbox.opayo.cards import (
    CardRejected,
    check_expiry,
    check_security_code,
    identify_test_card,
)
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.errors import PiError, pi_error_response, pi_fault_response
from sandbox.opayo.money import is_supported_currency
from sandbox.opayo.outcomes import (
    CHALLENGE,
    MAGIC_AMOUNTS,
    OK,
    REJECTED_3DS,
    Outcome,
    avs_cvc_check,
    decide_authorisation,
)
from sandbox.opayo.state import (
    CARD_IDENTIFIER,
    MERCHANT_SESSION_KEY,
    Record,
    iso,
    new_transaction_id,
    parse_iso,
)
from sandbox.opayo.three_d_secure import (
    NAME_CHALLENGE,
    NAME_NOT_AUTHENTICATED,
    challenge_view,
    check_strong_customer_authentication,
    expire_if_abandoned,
    magic_name,
    open_challenge,
    read_cres,
)
from sandbox.opayo.transactions import (
    INSTRUCTION_TYPES,
    TRANSACTION_TYPES,
    apply_instruction,
    apply_outcome,
    check_reference_for_refund,
    check_reference_for_repeat,
    new_record,
)
from sandbox.opayo.validation import BodyChecker

SECURE_OPTIONS = ("UseMSPSetting", "Force", "Disable", "ForceIgnoringRules")
ENTRY_METHODS = ("Ecommerce", "MailOrder", "TelephoneOrder")

Handler = Callable[[Request, SandboxContext], Awaitable[Response]]


def _context(request: Request) -> SandboxContext:
    context: SandboxContext = request.app.state.opayo
    return context


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, _context(request))
        except PiError as error:
            return pi_error_response(error)

    return endpoint


# rule: OPAYO-PI-01
def _require_basic_auth(request: Request, context: SandboxContext) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise PiError.single(401, errors.AUTH_MISSING, "Authentication values are missing")
    try:
        key, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise PiError.single(401, errors.AUTH_FAILED, "Authentication failed") from error
    expected_key = context.options.integration_key.encode()
    expected_password = context.options.integration_password.encode()
    key_ok = hmac.compare_digest(key.encode(), expected_key)
    password_ok = hmac.compare_digest(password.encode(), expected_password)
    if not (key_ok and password_ok):
        raise PiError.single(401, errors.AUTH_FAILED, "Authentication failed")


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PiError.single(400, errors.MALFORMED, "Malformed request: invalid JSON") from error
    if not isinstance(body, dict):
        raise PiError.single(400, errors.MALFORMED, "Malformed request: expected a JSON object")
    return body


# rule: OPAYO-PI-15
def pi_view(record: Record) -> dict[str, Any]:
    """A transaction as Pi's `GET /transactions/{id}` shows it."""
    body: dict[str, Any] = {
        "transactionId": record["transactionId"],
        "transactionType": record["transactionType"],
        "status": record["status"],
        "statusCode": record["statusCode"],
        "statusDetail": record["statusDetail"],
        "retrievalReference": record["retrievalReference"],
        "bankResponseCode": record["bankResponseCode"],
        "bankAuthorisationCode": record["bankAuthorisationCode"],
        "amount": {
            "totalAmount": record["amount"],
            "saleAmount": record["amount"],
            "surchargeAmount": 0,
        },
        "currency": record["currency"],
        "3DSecure": {"status": record["threeDSecureStatus"]},
    }
    card = record.get("card")
    if card:
        body["paymentMethod"] = {
            "card": {
                "cardType": card["cardType"],
                "lastFourDigits": card["lastFourDigits"],
                "expiryDate": card["expiryDate"],
            }
        }
    if record.get("avsCvcCheck"):
        body["avsCvcCheck"] = record["avsCvcCheck"]
    if record["status"] == CHALLENGE.status:
        body.update(challenge_view(record))
    return body


# rule: OPAYO-PI-02
async def create_merchant_session_key(request: Request, context: SandboxContext) -> Response:
    _require_basic_auth(request, context)
    checker = BodyChecker(await _json_object(request))
    vendor_name = checker.string("vendorName")
    checker.raise_if_failed()
    if vendor_name.lower() != context.options.vendor.lower():
        raise PiError.single(
            403, errors.VENDOR_MISMATCH, "vendorName does not match the integration key"
        )
    key = secrets.token_hex(16).upper()
    expiry = context.clock.now() + timedelta(seconds=context.options.merchant_session_key_ttl)
    context.state.store.put(MERCHANT_SESSION_KEY, key, {"key": key, "expiresAt": iso(expiry)})
    return JSONResponse({"merchantSessionKey": key, "expiry": iso(expiry)}, 201)


def _valid_session_key(context: SandboxContext, key: str) -> Record | None:
    record = context.state.store.get(MERCHANT_SESSION_KEY, key)
    if record is None or parse_iso(record["expiresAt"]) <= context.clock.now():
        return None
    return record


# rule: OPAYO-PI-03
async def create_card_identifier(request: Request, context: SandboxContext) -> Response:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise PiError.single(401, errors.AUTH_MISSING, "Authentication values are missing")
    session = _valid_session_key(context, key.strip())
    if session is None:
        raise PiError.single(
            401,
            errors.MERCHANT_SESSION_KEY_INVALID,
            "The merchant session key is invalid or expired",
        )
    body = await _json_object(request)
    checker = BodyChecker(body)
    cardholder = checker.string("cardDetails.cardholderName", max_length=45)
    checker.string("cardDetails.cardNumber")
    checker.string("cardDetails.expiryDate")
    checker.raise_if_failed()
    details = body["cardDetails"]
    now = context.clock.now()
    try:
        card = identify_test_card(details.get("cardNumber"), property_name="cardDetails.cardNumber")
        expiry = check_expiry(
            details.get("expiryDate"), now, property_name="cardDetails.expiryDate"
        )
        code_matched = check_security_code(
            details.get("securityCode"), property_name="cardDetails.securityCode"
        )
    except CardRejected as rejected:
        raise PiError.field(rejected.property, rejected.description) from rejected
    identifier = new_transaction_id()
    expires = now + timedelta(seconds=context.options.card_identifier_ttl)
    # rule: OPAYO-PI-04
    # Only what a transaction needs later: never the number or the security code.
    context.state.store.put(
        CARD_IDENTIFIER,
        identifier,
        {
            "cardIdentifier": identifier,
            "merchantSessionKey": key.strip(),
            "expiresAt": iso(expires),
            "cardType": card.pi_type,
            "serverCardType": card.server_type,
            "lastFourDigits": card.number[-4:],
            "expiryDate": expiry,
            "securityCodeMatched": code_matched,
            "threeDSecureName": magic_name(cardholder),
            "used": False,
        },
    )
    return JSONResponse(
        {"cardIdentifier": identifier, "expiry": iso(expires), "cardType": card.pi_type}, 201
    )


def _check_card(context: SandboxContext, session_key: str, identifier: str) -> Record:
    session = _valid_session_key(context, session_key)
    if session is None:
        raise PiError.field(
            "paymentMethod.card.merchantSessionKey",
            "The merchant session key is invalid or expired",
            errors.MERCHANT_SESSION_KEY_INVALID,
        )
    card = context.state.store.get(CARD_IDENTIFIER, identifier)
    if card is None or card["merchantSessionKey"] != session_key:
        raise PiError.field(
            "paymentMethod.card.cardIdentifier",
            "The card identifier is unknown for this merchant session key",
        )
    if parse_iso(card["expiresAt"]) <= context.clock.now():
        raise PiError.field(
            "paymentMethod.card.cardIdentifier",
            "The card identifier has expired (they live 400 seconds)",
            errors.CARD_IDENTIFIER_EXPIRED,
        )
    if card["used"]:
        raise PiError.field(
            "paymentMethod.card.cardIdentifier", "The card identifier has already been used"
        )
    return card


# rule: OPAYO-PI-05
async def create_transaction(request: Request, context: SandboxContext) -> Response:
    _require_basic_auth(request, context)
    body = await _json_object(request)
    checker = BodyChecker(body)
    kind = checker.string("transactionType", choices=TRANSACTION_TYPES)
    vendor_tx_code = checker.string("vendorTxCode", max_length=40)
    amount = checker.integer("amount")
    # rule: OPAYO-PI-18
    # Public Pi clients send a Refund without currency (it is the original's); both are taken.
    currency = checker.string("currency", required=kind != "Refund")
    if currency and not is_supported_currency(currency):
        checker.fail("currency", f"Invalid value: {currency} is not a supported ISO 4217 code")
    checker.string("description", max_length=100)
    card_fields: tuple[str, str] = ("", "")
    entry_method = ""
    if kind in ("Payment", "Deferred"):
        card_fields = (
            checker.string("paymentMethod.card.merchantSessionKey"),
            checker.string("paymentMethod.card.cardIdentifier"),
        )
        checker.string("customerFirstName", max_length=20)
        checker.string("customerLastName", max_length=20)
        checker.string("billingAddress.address1", max_length=50)
        checker.string("billingAddress.city", max_length=40)
        checker.string("billingAddress.country", max_length=2)
        checker.string("billingAddress.postalCode", required=False, max_length=10)
        # rule: OPAYO-SCA-02
        entry_method = checker.string(
            "entryMethod", required=False, choices=ENTRY_METHODS, default="Ecommerce"
        )
        if entry_method == "Ecommerce":
            check_strong_customer_authentication(checker)
    elif kind in ("Repeat", "Refund"):
        checker.string("referenceTransactionId")
    apply_3ds = checker.string("apply3DSecure", required=False, choices=SECURE_OPTIONS)
    apply_avs = checker.string("applyAvsCvcCheck", required=False, choices=SECURE_OPTIONS)
    checker.raise_if_failed()
    assert amount is not None  # the checker raised otherwise

    store = context.state.store
    with store.transaction():
        # rule: OPAYO-PI-06
        if context.state.transaction_by_vendor_tx_code(vendor_tx_code) is not None:
            raise PiError.field(
                "vendorTxCode",
                "This vendorTxCode has been used before; each must be unique",
                errors.DUPLICATE_VENDOR_TX_CODE,
            )
        transaction_id = new_transaction_id()
        now = context.clock.now()
        if kind in ("Payment", "Deferred"):
            card = _check_card(context, *card_fields)
            billing = body["billingAddress"]
            avs = avs_cvc_check(
                address1=billing.get("address1", ""),
                postal_code=billing.get("postalCode") or "",
                security_code_matched=card["securityCodeMatched"],
            )
            # rule: OPAYO-SCA-03
            three_d_secure = entry_method == "Ecommerce" and apply_3ds != "Disable"
            name = card.get("threeDSecureName", "") if three_d_secure else ""
            # rule: OPAYO-OUT-03
            if name == NAME_CHALLENGE:
                outcome = CHALLENGE
            elif name == NAME_NOT_AUTHENTICATED:
                outcome = REJECTED_3DS
            else:
                outcome = _authorisation(amount, avs["status"] == "AllMatched", apply_avs)
            record = new_record(
                context,
                transaction_id=transaction_id,
                transaction_type=kind,
                vendor_tx_code=vendor_tx_code,
                amount=amount,
                currency=currency,
                description=body["description"],
                outcome=outcome,
                integration="pi",
            )
            record["card"] = {
                key: card[key]
                for key in ("cardType", "serverCardType", "lastFourDigits", "expiryDate")
            }
            record["avsCvcCheck"] = avs
            record["threeDSecureStatus"] = "Authenticated" if three_d_secure else "NotChecked"
            if outcome is REJECTED_3DS:
                record["threeDSecureStatus"] = "NotAuthenticated"
            if outcome is CHALLENGE:
                record["threeDSecureStatus"] = "NotChecked"
                open_challenge(record, body, acs_url=f"{request.base_url}_sandbox/acs")
            card["used"] = True
            store.put(CARD_IDENTIFIER, card["cardIdentifier"], card)
        else:
            reference = context.state.transaction(body["referenceTransactionId"])
            if reference is None:
                raise PiError.field(
                    "referenceTransactionId", "No transaction with this id", errors.NOT_FOUND
                )
            if kind == "Refund":
                if reference["integration"] == "server":
                    raise PiError.field("referenceTransactionId", SERVER_ONLY)
                currency = currency or reference["currency"]
                check_reference_for_refund(context, reference, amount, currency)
                outcome = OK
            else:
                check_reference_for_repeat(reference)
                outcome = MAGIC_AMOUNTS.get(amount) or OK
            record = new_record(
                context,
                transaction_id=transaction_id,
                transaction_type=kind,
                vendor_tx_code=vendor_tx_code,
                amount=amount,
                currency=currency,
                description=body["description"],
                outcome=outcome,
                integration="pi",
            )
            record["card"] = reference["card"]
            record["referenceTransactionId"] = reference["transactionId"]
            if kind == "Refund":
                reference["refundIds"].append(transaction_id)
                context.state.save_transaction(reference)
        apply_outcome(record, outcome, now)
        context.state.claim_vendor_tx_code(vendor_tx_code, transaction_id)
        context.state.save_transaction(record)
    return JSONResponse(pi_view(record), outcome.http_status)


# Nothing public says Pi accepts instructions or Refunds for a transaction registered through
# Server (reference, "Corrections and additions"): the sandbox refuses them (our assumption on
# the shape of the refusal), so only the Shared Protocol (sandbox/opayo/shared_protocol.py)
# manages those transactions.
SERVER_ONLY = (
    "The transaction was registered through Server; release, abort, refund or void it with "
    "the Shared Protocol (release.vsp, abort.vsp, refund.vsp, void.vsp)"
)


# rule: OPAYO-PI-20
def _refuse_server_transaction(record: Record) -> None:
    if record["integration"] == "server":
        raise PiError.single(403, errors.INSTRUCTION_REFUSED, SERVER_ONLY)


def _authorisation(amount: int, avs_cvc_all_matched: bool, apply_avs: str) -> Outcome:
    return decide_authorisation(
        amount=amount,
        cardholder_name="",
        avs_cvc_all_matched=avs_cvc_all_matched,
        apply_avs_cvc_check=apply_avs,
        apply_3d_secure="UseMSPSetting",
    )


# rule: OPAYO-PI-09
def _find(context: SandboxContext, transaction_id: str) -> Record:
    record = context.state.transaction(transaction_id)
    if record is None or record["status"] == "Registered":
        raise PiError.single(404, errors.NOT_FOUND, "Transaction not found")
    expire_if_abandoned(context, record)
    return record


async def get_transaction(request: Request, context: SandboxContext) -> Response:
    _require_basic_auth(request, context)
    record = _find(context, request.path_params["transaction_id"])
    return JSONResponse(pi_view(record), 200)


# rule: OPAYO-PI-19
async def list_instructions(request: Request, context: SandboxContext) -> Response:
    """The instructions applied to a transaction, with their dates; 404 when there are none."""
    _require_basic_auth(request, context)
    record = _find(context, request.path_params["transaction_id"])
    if not record["instructions"]:
        raise PiError.single(404, errors.NOT_FOUND, "No instructions for this transaction")
    return JSONResponse({"instructions": list(record["instructions"])}, 200)


async def create_instruction(request: Request, context: SandboxContext) -> Response:
    _require_basic_auth(request, context)
    checker = BodyChecker(await _json_object(request))
    instruction_type = checker.string("instructionType", choices=INSTRUCTION_TYPES)
    amount = checker.integer("amount", required=False)
    if amount is not None and instruction_type != "release":
        checker.fail("amount", f"Invalid value: {instruction_type} takes no amount")
    checker.raise_if_failed()
    with context.state.store.transaction():
        record = _find(context, request.path_params["transaction_id"])
        _refuse_server_transaction(record)
        instruction = apply_instruction(context, record, instruction_type, amount)
        context.state.save_transaction(record)
    return JSONResponse(instruction, 201)


# rule: OPAYO-PI-14
async def complete_challenge(request: Request, context: SandboxContext) -> Response:
    _require_basic_auth(request, context)
    checker = BodyChecker(await _json_object(request))
    c_res = checker.string("cRes", max_length=10000)
    checker.string("threeDSSessionData", required=False, max_length=1024)
    checker.raise_if_failed()
    with context.state.store.transaction():
        record = _find(context, request.path_params["transaction_id"])
        if record["status"] != CHALLENGE.status:
            raise PiError.single(
                403,
                errors.INSTRUCTION_REFUSED,
                "The transaction is not awaiting a 3-D Secure result",
            )
        result = read_cres(record, c_res)
        if result is None:
            raise PiError.field("cRes", "Invalid value: not the CRes the ACS issued for this")
        if result == "N":
            outcome = REJECTED_3DS
            record["threeDSecureStatus"] = "NotAuthenticated"
        else:
            avs = record.get("avsCvcCheck") or {}
            outcome = _authorisation(
                record["amount"], avs.get("status") == "AllMatched", "UseMSPSetting"
            )
            record["threeDSecureStatus"] = "Authenticated"
        apply_outcome(record, outcome, context.clock.now())
        context.state.save_transaction(record)
    return JSONResponse(pi_view(record), outcome.http_status)


def _route(path: str, operation: str, handler: Handler, method: str, hang: float) -> Route:
    endpoint = with_faults(
        operation, _endpoint(handler), pi_fault_response, lost_response_hang_seconds=hang
    )
    return Route(path, endpoint, methods=[method])


def pi_routes(lost_response_hang_seconds: float) -> list[Route]:
    hang = lost_response_hang_seconds
    return [
        _route(
            "/api/v1/merchant-session-keys",
            "merchant-session-keys",
            create_merchant_session_key,
            "POST",
            hang,
        ),
        _route(
            "/api/v1/card-identifiers", "card-identifiers", create_card_identifier, "POST", hang
        ),
        _route("/api/v1/transactions", "transactions", create_transaction, "POST", hang),
        _route(
            "/api/v1/transactions/{transaction_id}", "get-transaction", get_transaction, "GET", hang
        ),
        _route(
            "/api/v1/transactions/{transaction_id}/instructions",
            "instructions",
            create_instruction,
            "POST",
            hang,
        ),
        _route(
            "/api/v1/transactions/{transaction_id}/instructions",
            "get-instructions",
            list_instructions,
            "GET",
            hang,
        ),
        _route(
            "/api/v1/transactions/{transaction_id}/3d-secure-challenge",
            "3d-secure-challenge",
            complete_challenge,
            "POST",
            hang,
        ),
    ]
