"""Opayo Pi REST client that never charges twice.

A POST that may have reached Opayo (a read timeout, a reset connection, a 5xx) is never sent
again blindly. The connector first finds out what happened and continues from the real state:

- creating a transaction (Payment, Deferred, Refund): the vendorTxCode is looked up with the
  Reporting API's getTransactionDetail; found -> that transaction is the answer; not found ->
  sending again is safe, because Opayo refuses a second use of a vendorTxCode (and that
  refusal is itself answered by looking the code up);
- an instruction (release, abort, void): the transaction's state is read back (Reporting
  `txstateid`, `TransactionDetail.instruction_applied`); already applied -> done; not applied
  -> send again; cannot tell -> the outcome is unknown and nothing is sent.

Only a request known not to have been processed (connection refused, 429) is retried as is.
Every call has a timeout. Card data never passes through here: only the merchant session key
and the card identifier the shopper's browser obtained.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx

from opayo_fba.amazon.retry import RetryPolicy, call_with_retries
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.money import Money
from opayo_fba.model.status import PaymentState
from opayo_fba.opayo.credentials import VendorCredentials
from opayo_fba.opayo.errors import (
    OpayoAuthenticationFailed,
    OpayoError,
    OpayoInstructionRefused,
    OpayoRequestInvalid,
    OpayoTransactionNotFound,
    OpayoUnavailable,
    PaymentOutcomeUnknown,
)
from opayo_fba.opayo.reporting import ReportingClient, TransactionDetail
from opayo_fba.opayo.results import PiInstruction, PiTransaction, parse_opayo_time
from opayo_fba.saga.ports import ObservedPayment

T = TypeVar("T")

PI_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_VENDOR_TX_CODE = re.compile(r"^[A-Za-z0-9{}._-]{1,40}$")
_TRANSACTION_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# 422 properties whose refusal may mean "an earlier attempt of ours already used it". The
# order in which Opayo checks a request's fields is not published: a repeat of a request that
# did create a transaction may be refused on its vendorTxCode, its (now used) card identifier
# or its merchant session key (used, or expired meanwhile). Each of them is looked up by
# vendorTxCode before it is taken as a refusal (our assumption: tolerate every order).
_USED_BY_EARLIER_ATTEMPT = (
    "vendorTxCode",
    "paymentMethod.card.cardIdentifier",
    "paymentMethod.card.merchantSessionKey",
)


def refund_vendor_tx_code(refund_id: str) -> str:
    """The vendorTxCode of a refund, derived only from the refund's id.

    The same refund always gets the same code, so Opayo's uniqueness check stops a second
    refund even if every other safeguard failed. Readable ids are kept; others are hashed.
    """
    if not refund_id:
        raise InvalidInputError("refund_id is required to derive a refund vendorTxCode")
    if re.fullmatch(r"[A-Za-z0-9._-]{1,35}", refund_id):
        return f"RFND-{refund_id}"
    return "RFNH-" + hashlib.sha256(refund_id.encode("utf-8")).hexdigest()[:32]


def derived_vendor_tx_code(prefix: str, key: str) -> str:
    """`<prefix>-<key>` when that is a valid vendorTxCode (at most 40 of A-Z a-z 0-9 {} . _ -),
    else `<prefix>H-` and 32 hex digits of the key's SHA-256: the same key always gives the
    same code, so Opayo's uniqueness check refuses a second transaction for it."""
    candidate = f"{prefix}-{key}"
    if _VENDOR_TX_CODE.match(candidate):
        return candidate
    return f"{prefix}H-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def check_vendor_tx_code(value: str) -> str:
    if not _VENDOR_TX_CODE.match(value or ""):
        raise InvalidInputError(
            f"vendorTxCode {value!r} is invalid: 1-40 characters of A-Z a-z 0-9 {{}} . - _"
        )
    return value


def _check_transaction_id(value: str) -> str:
    if not _TRANSACTION_ID.match(value or ""):
        raise InvalidInputError(f"transaction_id {value!r} is invalid")
    return value


@dataclass(frozen=True)
class CardPayment:
    """A Payment (capture now) or Deferred (authorise, release later) from a card identifier."""

    transaction_type: Literal["Payment", "Deferred"]
    vendor_tx_code: str
    amount: Money
    description: str
    merchant_session_key: str
    card_identifier: str
    customer_first_name: str
    customer_last_name: str
    billing_address: Mapping[str, str]
    """Pi's billingAddress: address1, address2?, city, postalCode, country, state?"""
    customer_email: str | None = None
    entry_method: str = "Ecommerce"
    apply_3d_secure: str | None = None
    apply_avs_cvc_check: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Other Pi fields passed through (shippingDetails, customerPhone, ...)."""
    strong_customer_authentication: Mapping[str, Any] | None = None
    """The shopper's browser data for 3-D Secure 2 (`StrongCustomerAuthentication.to_pi()`);
    Pi refuses an Ecommerce Payment or Deferred without it."""

    def __post_init__(self) -> None:
        check_vendor_tx_code(self.vendor_tx_code)
        if self.amount.amount <= 0:
            raise InvalidInputError("amount must be positive")
        if not 1 <= len(self.description) <= 100:
            raise InvalidInputError("description must be 1-100 characters")
        for name in ("merchant_session_key", "card_identifier"):
            if not getattr(self, name):
                raise InvalidInputError(f"{name} is required")

    def to_pi(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self.extra,
            "transactionType": self.transaction_type,
            "paymentMethod": {
                "card": {
                    "merchantSessionKey": self.merchant_session_key,
                    "cardIdentifier": self.card_identifier,
                }
            },
            "vendorTxCode": self.vendor_tx_code,
            "amount": self.amount.amount,
            "currency": self.amount.currency,
            "description": self.description,
            "customerFirstName": self.customer_first_name,
            "customerLastName": self.customer_last_name,
            "billingAddress": dict(self.billing_address),
            "entryMethod": self.entry_method,
        }
        if self.customer_email:
            body["customerEmail"] = self.customer_email
        if self.apply_3d_secure:
            body["apply3DSecure"] = self.apply_3d_secure
        if self.apply_avs_cvc_check:
            body["applyAvsCvcCheck"] = self.apply_avs_cvc_check
        if self.strong_customer_authentication is not None:
            body["strongCustomerAuthentication"] = dict(self.strong_customer_authentication)
        return body


class _NotProcessed(Exception):
    """Opayo certainly did not act on the request (or we checked): sending again is safe."""


class _Unresolved(_NotProcessed):
    """The request may have been processed and the check failed too; keep the cause."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _MaybeProcessed(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class PiClient:
    """Opayo Pi for one vendor. `reporting` is used to find out what happened after doubt."""

    def __init__(
        self,
        credentials: VendorCredentials,
        *,
        reporting: ReportingClient,
        base_url: str = "https://live.opayo.eu.elavon.com/api/v1",
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float = PI_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._credentials = credentials
        self._reporting = reporting
        self._base_url = base_url.rstrip("/")
        self._http = http_client or httpx.Client(timeout=timeout)
        self._timeout = timeout
        self._retry = retry or RetryPolicy(attempts=4, total_seconds=60.0)

    @property
    def reporting(self) -> ReportingClient:
        """The Reporting & Admin API client this Pi client consults when in doubt."""
        return self._reporting

    # -- transport --------------------------------------------------------------------------

    def _auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(
            self._credentials.integration_key.get_secret_value(),
            self._credentials.integration_password.get_secret_value(),
        )

    def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """One request. Raises _NotProcessed or _MaybeProcessed for transport doubts and 5xx."""
        try:
            response = self._http.request(
                method,
                f"{self._base_url}{path}",
                json=dict(body) if body is not None else None,
                auth=self._auth(),
                timeout=self._timeout,
            )
        except _NOT_SENT as error:
            raise _NotProcessed(f"{type(error).__name__}: {error}") from error
        except (httpx.TimeoutException, httpx.TransportError) as error:
            raise _MaybeProcessed(f"{type(error).__name__}: {error or 'no response'}") from error
        if response.status_code == 429:
            raise _NotProcessed("HTTP 429 from Opayo")
        if response.status_code >= 500:
            raise _MaybeProcessed(f"HTTP {response.status_code} from Opayo")
        return response

    def _with_retries(self, operation: str, reference: str, call: Callable[[], T]) -> T:
        try:
            return call_with_retries(
                call,
                policy=self._retry,
                retryable=lambda error: isinstance(error, _NotProcessed),
                name=operation,
            )
        except _Unresolved as unresolved:
            raise PaymentOutcomeUnknown(operation, reference, unresolved.detail) from None
        except _NotProcessed as not_processed:
            raise OpayoUnavailable(operation, 0, "Unavailable", str(not_processed)) from None

    # -- reads ------------------------------------------------------------------------------

    def create_merchant_session_key(self) -> str:
        """A merchant session key for the shopper's browser (Drop-in / sagepay.js)."""

        def attempt() -> str:
            try:
                response = self._send(
                    "POST",
                    "/merchant-session-keys",
                    {"vendorName": self._credentials.vendor_name},
                )
            except _MaybeProcessed as doubt:
                raise _NotProcessed(doubt.detail) from None  # a key has no side effects
            body = _json(response)
            if response.status_code != 201:
                raise _error("createMerchantSessionKey", response, body)
            return str(body["merchantSessionKey"])

        return self._with_retries("createMerchantSessionKey", "vendor", attempt)

    def get_transaction(self, transaction_id: str) -> PiTransaction:
        path = f"/transactions/{_check_transaction_id(transaction_id)}"

        def attempt() -> PiTransaction:
            try:
                response = self._send("GET", path)
            except _MaybeProcessed as doubt:
                raise _NotProcessed(doubt.detail) from None  # a GET changes nothing
            body = _json(response)
            if response.status_code != 200:
                raise _error("getTransaction", response, body)
            return PiTransaction.from_pi(body)

        return self._with_retries("getTransaction", transaction_id, attempt)

    def get_instructions(self, transaction_id: str) -> list[PiInstruction]:
        """The instructions applied to a transaction, oldest first; [] when there are none.

        Pi answers `{"instructions": [{"instructionType", "date"}, ...]}`, and 404 when no
        instruction was ever applied (academe/opayo-pi FetchInstructions, InstructionCollection).
        """
        path = f"/transactions/{_check_transaction_id(transaction_id)}/instructions"

        def attempt() -> list[PiInstruction]:
            try:
                response = self._send("GET", path)
            except _MaybeProcessed as doubt:
                raise _NotProcessed(doubt.detail) from None  # a GET changes nothing
            body = _json(response)
            if response.status_code == 404:
                return []
            if response.status_code != 200:
                raise _error("getInstructions", response, body)
            items = body.get("instructions")
            return [
                PiInstruction(
                    instruction_type=str(item.get("instructionType", "")),
                    amount=item.get("amount") if isinstance(item.get("amount"), int) else None,
                    date=parse_opayo_time(item.get("date")),
                )
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, dict)
            ]

        return self._with_retries("getInstructions", transaction_id, attempt)

    def observe(self, transaction_id: str) -> ObservedPayment:
        """Where the money of `transaction_id` is, as Opayo says now (`PaymentPort.observe`).

        Read from `GET /transactions/{id}` and `GET /transactions/{id}/instructions`. Pi does
        not list a transaction's refunds, so `refunded` stays unknown (None) here; a release's
        amount is read from its instruction when Opayo gives one.
        """
        try:
            transaction = self.get_transaction(transaction_id)
        except OpayoTransactionNotFound:
            return ObservedPayment(PaymentState.NONE, detail="Opayo has no such transaction")
        return observed_from_pi(transaction, self.get_instructions(transaction_id))

    # -- transactions -----------------------------------------------------------------------

    def create_payment(self, payment: CardPayment) -> PiTransaction:
        """Create a Payment or Deferred transaction, exactly once per vendorTxCode.

        A declined card is a result (status NotAuthed/Rejected), not an exception.
        """
        return self._create_transaction(
            f"create{payment.transaction_type}", payment.to_pi(), payment.vendor_tx_code
        )

    def refund(
        self,
        reference_transaction_id: str,
        amount: Money,
        *,
        refund_id: str,
        description: str,
    ) -> PiTransaction:
        """Refund `amount` of a captured transaction, exactly once per `refund_id`."""
        if amount.amount <= 0:
            raise InvalidInputError("refund amount must be positive")
        if not 1 <= len(description) <= 100:
            raise InvalidInputError("refund description must be 1-100 characters")
        vendor_tx_code = refund_vendor_tx_code(refund_id)
        body = {
            "transactionType": "Refund",
            "referenceTransactionId": _check_transaction_id(reference_transaction_id),
            "vendorTxCode": vendor_tx_code,
            "amount": amount.amount,
            "currency": amount.currency,
            "description": description,
        }
        return self._create_transaction("createRefund", body, vendor_tx_code)

    def repeat(
        self,
        reference_transaction_id: str,
        amount: Money,
        *,
        vendor_tx_code: str,
        description: str,
    ) -> PiTransaction:
        """Charge the card of an earlier transaction again (a Repeat), once per vendorTxCode.

        The body is what public Pi clients send (academe/opayo-pi CreateRepeatPayment):
        `transactionType, referenceTransactionId, vendorTxCode, amount, currency, description`.
        Opayo repeats a Payment, a Repeat, or a Deferred once released (Elavon, "REPEAT
        Transactions"); a declined repeat is a result, not an exception.
        """
        if amount.amount <= 0:
            raise InvalidInputError("repeat amount must be positive")
        if not 1 <= len(description) <= 100:
            raise InvalidInputError("repeat description must be 1-100 characters")
        body = {
            "transactionType": "Repeat",
            "referenceTransactionId": _check_transaction_id(reference_transaction_id),
            "vendorTxCode": check_vendor_tx_code(vendor_tx_code),
            "amount": amount.amount,
            "currency": amount.currency,
            "description": description,
        }
        return self._create_transaction("createRepeat", body, vendor_tx_code)

    def recover_transaction_id(self, vendor_tx_code: str) -> str | None:
        """The transactionId Opayo gave the transaction made under `vendor_tx_code`, if any
        (`PaymentPort.recover_transaction_id`)."""
        found = self.recover_transaction(vendor_tx_code)
        return found.transaction_id if found is not None else None

    def recover_transaction(self, vendor_tx_code: str) -> PiTransaction | None:
        """The transaction created under `vendor_tx_code`, if Opayo has one."""
        detail = self._reporting.find_transaction(check_vendor_tx_code(vendor_tx_code))
        if detail is None:
            return None
        return self._as_pi(detail)

    def _as_pi(self, detail: TransactionDetail) -> PiTransaction:
        found = self.get_transaction(detail.transaction_id)
        return PiTransaction(**{**found.__dict__, "vendor_tx_code": detail.vendor_tx_code})

    def _create_transaction(
        self, operation: str, body: dict[str, Any], vendor_tx_code: str
    ) -> PiTransaction:
        def look_up(detail: str) -> PiTransaction:
            try:
                found = self.recover_transaction(vendor_tx_code)
            except (OpayoError, InvalidInputError) as error:
                raise _Unresolved(f"{detail}; lookup failed: {error}") from None
            if found is None:
                # Opayo has no transaction under this code, so it did not act on the request.
                raise _Unresolved(f"{detail}; Opayo has no transaction {vendor_tx_code}")
            return found

        def attempt() -> PiTransaction:
            try:
                response = self._send("POST", "/transactions", body)
            except _MaybeProcessed as doubt:
                return look_up(doubt.detail)
            result = _json(response)
            if "transactionId" in result and "status" in result:
                return PiTransaction.from_pi(result, vendor_tx_code)
            error = _error(operation, response, result)
            if isinstance(error, OpayoRequestInvalid) and error.field in _USED_BY_EARLIER_ATTEMPT:
                try:
                    return look_up(str(error))
                except _Unresolved:
                    raise error from None
            raise error

        return self._with_retries(operation, vendor_tx_code, attempt)

    def complete_challenge(
        self, transaction_id: str, c_res: str, three_ds_session_data: str | None = None
    ) -> PiTransaction:
        """Send the ACS's cRes to Opayo and return the final transaction (Ok, Rejected, ...).

        Never sent twice blindly: after any doubt (no answer, a 5xx, or a refusal because the
        transaction no longer awaits 3-D Secure) the transaction is read back; if it has left
        3DAuth that is the answer, if it still awaits its result sending again is safe.
        """
        path = f"/transactions/{_check_transaction_id(transaction_id)}/3d-secure-challenge"
        body: dict[str, Any] = {"cRes": c_res}
        if three_ds_session_data is not None:
            body["threeDSSessionData"] = three_ds_session_data

        def settled(detail: str) -> PiTransaction | None:
            try:
                found = self.get_transaction(transaction_id)
            except (OpayoError, InvalidInputError) as error:
                raise _Unresolved(f"{detail}; read-back failed: {error}") from None
            return None if found.status == "3DAuth" else found

        def attempt() -> PiTransaction:
            try:
                response = self._send("POST", path, body)
            except _MaybeProcessed as doubt:
                done = settled(doubt.detail)
                if done is None:
                    raise _NotProcessed(f"{doubt.detail}; still awaiting 3-D Secure") from None
                return done
            result = _json(response)
            if "transactionId" in result and "status" in result:
                return PiTransaction.from_pi(result)
            error = _error("complete3DSecureChallenge", response, result)
            if isinstance(error, OpayoInstructionRefused):
                done = settled(str(error))  # completed by an earlier attempt of ours?
                if done is not None:
                    return done
            raise error

        return self._with_retries("complete3DSecureChallenge", transaction_id, attempt)

    # -- instructions -----------------------------------------------------------------------

    def release(self, transaction_id: str, amount: Money) -> PiInstruction:
        """Release (capture) `amount` of a Deferred transaction; once only, full or partial."""
        if amount.amount <= 0:
            raise InvalidInputError("release amount must be positive")
        return self._instruct(transaction_id, "release", amount.amount)

    def abort(self, transaction_id: str) -> PiInstruction:
        """Cancel a Deferred transaction that was not released; the hold on funds ends."""
        return self._instruct(transaction_id, "abort")

    def void(self, transaction_id: str) -> PiInstruction:
        """Cancel a Payment or Refund on the day it was made, before settlement."""
        return self._instruct(transaction_id, "void")

    def _instruct(
        self, transaction_id: str, instruction_type: str, amount: int | None = None
    ) -> PiInstruction:
        operation = f"{instruction_type}Transaction"
        path = f"/transactions/{_check_transaction_id(transaction_id)}/instructions"
        body: dict[str, Any] = {"instructionType": instruction_type}
        if amount is not None:
            body["amount"] = amount

        def applied(detail: str) -> PiInstruction | None:
            try:
                state = self._reporting.get_transaction_detail(vps_tx_id=transaction_id)
            except (OpayoError, InvalidInputError) as error:
                raise _Unresolved(f"{detail}; state lookup failed: {error}") from None
            return _applied_instruction(state, instruction_type, amount, detail)

        def attempt() -> PiInstruction:
            try:
                response = self._send("POST", path, body)
            except _MaybeProcessed as doubt:
                done = applied(doubt.detail)
                if done is None:
                    raise _Unresolved(f"{doubt.detail}; {instruction_type} not applied") from None
                return done
            result = _json(response)
            if response.status_code in (200, 201):
                return PiInstruction(
                    instruction_type=str(result.get("instructionType", instruction_type)),
                    amount=result.get("amount", amount),
                    date=parse_opayo_time(result.get("date")),
                )
            error = _error(operation, response, result)
            if isinstance(error, OpayoInstructionRefused):
                # Refused because an earlier attempt (maybe an earlier invocation) did it?
                done = applied(str(error))
                if done is not None:
                    return done
            raise error

        return self._with_retries(operation, transaction_id, attempt)


_DECLINED = ("NotAuthed", "Rejected")


def observed_from_pi(
    transaction: PiTransaction, instructions: list[PiInstruction]
) -> ObservedPayment:
    """The decision table from a Pi transaction and its instructions to where the money is."""
    kinds = {i.instruction_type for i in instructions}
    detail = f"{transaction.transaction_type} {transaction.status}"
    if instructions:
        detail += "; " + ", ".join(i.instruction_type for i in instructions)
    if transaction.status != "Ok":
        if transaction.status in _DECLINED:
            return ObservedPayment(PaymentState.DECLINED, detail=detail)
        if transaction.status == "3DAuth":
            return ObservedPayment(PaymentState.PENDING, detail=detail)
        return ObservedPayment(PaymentState.FAILED, detail=detail)
    amount = transaction.amount
    if transaction.transaction_type == "Deferred":
        if "abort" in kinds:
            return ObservedPayment(PaymentState.ABORTED, detail=detail)
        released = [i for i in instructions if i.instruction_type == "release"]
        if not released:
            return ObservedPayment(PaymentState.AUTHORISED, detail=detail)
        captured = (
            Money(amount=released[-1].amount, currency=amount.currency)
            if released[-1].amount is not None and amount is not None
            else None
        )
        return ObservedPayment(PaymentState.CAPTURED, captured=captured, detail=detail)
    if transaction.transaction_type in ("Payment", "Repeat"):
        if "void" in kinds:
            return ObservedPayment(PaymentState.VOIDED, detail=detail)
        return ObservedPayment(PaymentState.CAPTURED, captured=amount, detail=detail)
    return ObservedPayment(PaymentState.NONE, detail=f"{detail}: not a payment")


def _applied_instruction(
    state: TransactionDetail, instruction_type: str, amount: int | None, detail: str
) -> PiInstruction | None:
    """The instruction as Opayo recorded it, None if it was not applied.

    Read from txstateid (`TransactionDetail.instruction_applied`); when the record cannot
    tell, nothing is sent again. getTransactionDetail carries no released amount, so a
    release found applied is reported for the amount asked.
    """
    applied = state.instruction_applied(instruction_type)
    if applied is None:
        raise _Unresolved(
            f"{detail}; Opayo's record (txstateid {state.tx_state_id or 'missing'}) does not "
            f"say whether it was {instruction_type}d"
        )
    if not applied:
        return None
    return PiInstruction(instruction_type=instruction_type, amount=amount, date=None)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(operation: str, response: httpx.Response, body: dict[str, Any]) -> OpayoError:
    """Opayo's error shapes -> typed errors naming Opayo's code and the offending field."""
    status = response.status_code
    errors = body.get("errors")
    first: dict[str, Any] = errors[0] if isinstance(errors, list) and errors else body
    code = str(first.get("code", status))
    description = str(first.get("description") or first.get("clientMessage") or response.text)
    prop = first.get("property")
    field_name = str(prop) if prop else None
    if status == 401:
        return OpayoAuthenticationFailed(operation, status, code, description)
    if status == 403:
        return OpayoInstructionRefused(operation, status, code, description)
    if status == 404:
        return OpayoTransactionNotFound(operation, status, code, description)
    if status in (400, 408, 409, 422) or 400 <= status < 500:
        return OpayoRequestInvalid(operation, status, code, description, field_name)
    return OpayoUnavailable(operation, status, code, description)
