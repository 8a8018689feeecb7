"""Opayo's Server & Direct Shared Protocol: RELEASE, ABORT, REFUND and VOID of a transaction
registered through Opayo Server, which Pi does not manage (reference, "Corrections").

Each is a form POST to `.../gateway/service/{release|abort|refund|void}.vsp` quoting the
transaction's VendorTxCode, VPSTxId, SecurityKey and TxAuthNo; the answer is `Key=Value` lines
with `Status` OK | MALFORMED | INVALID | ERROR and `StatusDetail` "NNNN : text"
(omnipay-sagepay's Shared*Request.php, ebizmarts' Model/Api/Shared.php).

Nothing that may have landed is sent twice. Every instruction reads the transaction's state
first with Reporting's getTransactionDetail (`txstateid`, as ebizmarts' Shared.php does before
a release), and a post whose answer is lost (timeout, reset, 5xx) is resolved the same way
before anything else happens:
- txstateid 14 (DEFERRED awaiting RELEASE): neither released nor aborted, safe to send;
- 16 (successfully authorised): a Deferred in this state was released (our assumption:
  Opayo does not publish which value a released Deferred shows);
- 19 (DEFERRED aborted by the vendor), 18 (VOIDed by the vendor);
- 7 (Opayo is waiting for our answer to its notification: our OK was lost or is late, and
  Opayo will send the notification again): sent, Opayo decides; after a lost answer, 7 says
  nothing about the post, so it is PaymentOutcomeUnknown, never sent again blind;
- anything else: refused, naming the state.
A refund has its own VendorTxCode, derived from the refund's id: found by Reporting, it was
made; not found, sending is safe (and Opayo refuses a second use of the code anyway).

Refusals (INVALID, MALFORMED; `4020` is a post from an address not on the vendor's "Valid
IPs") raise OpayoInstructionRefused; what a retry may fix raises OpayoUnavailable or
PaymentOutcomeUnknown (both UpstreamError).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from opayo_fba.amazon.retry import RetryPolicy, call_with_retries
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.money import Money
from opayo_fba.opayo.credentials import VendorCredentials
from opayo_fba.opayo.errors import (
    OpayoError,
    OpayoInstructionRefused,
    OpayoUnavailable,
    PaymentOutcomeUnknown,
)
from opayo_fba.opayo.reporting import ReportingClient, TransactionDetail

T = TypeVar("T")

PROTOCOL = "4.00"
SHARED_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_VPS_TX_ID = re.compile(r"^\{[0-9A-Fa-f-]{36}\}$")

# Reporting API txstateid values (Sage Pay's list, Stack Overflow 40176413; ebizmarts).
AWAITING_NOTIFICATION_REPLY = "7"
DEFERRED_AWAITING_RELEASE = "14"
SUCCESSFULLY_AUTHORISED = "16"
VOIDED = "18"
DEFERRED_ABORTED = "19"
# Opayo's StatusDetail code for a post from an address not on the vendor's Valid IPs.
INVALID_IP_CODE = "4020"


class SourceAddressRefused(OpayoInstructionRefused):
    """4020: Opayo refused the post because it did not come from one of the vendor's "Valid
    IPs". Register the integration's egress address in MyOpayo (docs/deploy.md)."""


@dataclass(frozen=True)
class ServerTransaction:
    """What a Shared Protocol post must quote about a transaction registered through Server."""

    vendor_tx_code: str
    vps_tx_id: str
    """With its braces, as Opayo sends it."""
    security_key: str = field(repr=False)
    tx_auth_no: str
    """From the verified notification (VPSAuthCode in Reporting)."""

    def __post_init__(self) -> None:
        if not _VPS_TX_ID.match(self.vps_tx_id or ""):
            raise InvalidInputError("vps_tx_id must be a {GUID} in braces")
        for name in ("vendor_tx_code", "security_key", "tx_auth_no"):
            if not getattr(self, name):
                raise InvalidInputError(f"a Server transaction's {name} is required")


@dataclass(frozen=True)
class SharedProtocolResult:
    """Opayo's answer to one instruction (or, `recovered`, what Reporting says happened)."""

    tx_type: str
    status: str
    status_detail: str
    transaction_id: str
    """The transaction acted on; for a REFUND, the refund's own VPSTxId."""
    vendor_tx_code: str
    tx_auth_no: str | None = None
    amount: Money | None = None
    recovered: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status == "OK"


class _NotProcessed(Exception):
    """Opayo certainly did not act on the post: sending again is safe."""


class _MaybeProcessed(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def parse_reply(text: str) -> dict[str, str]:
    """`Status=OK\\r\\nStatusDetail=...` -> {"Status": "OK", ...}."""
    reply: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            reply.setdefault(name.strip(), value.strip())
    return reply


class SharedProtocolClient:
    """The Shared Protocol for one vendor; `reporting` tells it what happened when in doubt."""

    def __init__(
        self,
        credentials: VendorCredentials,
        *,
        reporting: ReportingClient,
        base_url: str = "https://live.opayo.eu.elavon.com/gateway/service",
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float = SHARED_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._credentials = credentials
        self._reporting = reporting
        self._base_url = base_url.rstrip("/")
        self._http = http_client or httpx.Client(timeout=timeout)
        self._timeout = timeout
        self._retry = retry or RetryPolicy(attempts=4, total_seconds=60.0)

    # -- instructions -----------------------------------------------------------------------

    def release(self, transaction: ServerTransaction, amount: Money) -> SharedProtocolResult:
        """Release (capture) `amount` of a Deferred; once only, never above the authorised."""
        if amount.amount <= 0:
            raise InvalidInputError("release amount must be positive")
        form = {**self._reference(transaction, "RELEASE"), "ReleaseAmount": amount.format()}
        return self._instruct("RELEASE", transaction, form, amount)

    def abort(self, transaction: ServerTransaction) -> SharedProtocolResult:
        """Cancel a Deferred that was not released; the hold on the shopper's funds ends."""
        return self._instruct("ABORT", transaction, self._reference(transaction, "ABORT"))

    def void(self, transaction: ServerTransaction) -> SharedProtocolResult:
        """Cancel a PAYMENT (or a refund) on the day it was made, before settlement."""
        return self._instruct("VOID", transaction, self._reference(transaction, "VOID"))

    def refund(
        self,
        transaction: ServerTransaction,
        amount: Money,
        *,
        refund_vendor_tx_code: str,
        description: str,
    ) -> SharedProtocolResult:
        """Refund `amount` of a captured transaction under its own, derived VendorTxCode."""
        if amount.amount <= 0:
            raise InvalidInputError("refund amount must be positive")
        if not 1 <= len(description) <= 100:
            raise InvalidInputError("refund description must be 1-100 characters")
        form = {
            "VPSProtocol": PROTOCOL,
            "TxType": "REFUND",
            "Vendor": self._credentials.vendor_name,
            "VendorTxCode": refund_vendor_tx_code,
            "Amount": amount.format(),
            "Currency": amount.currency,
            "Description": description,
            "RelatedVPSTxId": transaction.vps_tx_id,
            "RelatedVendorTxCode": transaction.vendor_tx_code,
            "RelatedSecurityKey": transaction.security_key,
            "RelatedTxAuthNo": transaction.tx_auth_no,
        }

        def made() -> SharedProtocolResult | None:
            detail = self._reporting.find_transaction(refund_vendor_tx_code)
            if detail is None:
                return None
            return _recovered_refund(detail, refund_vendor_tx_code, amount)

        def attempt() -> SharedProtocolResult:
            try:
                earlier = made()
            except OpayoError as error:
                raise _NotProcessed(f"refund lookup failed: {error}") from None
            if earlier is not None:
                return earlier
            try:
                reply = self._post("refund", form)
            except _MaybeProcessed as doubt:
                try:
                    found = made()
                except OpayoError as error:
                    raise PaymentOutcomeUnknown(
                        "refund", refund_vendor_tx_code, f"{doubt.detail}; lookup failed: {error}"
                    ) from None
                if found is None:
                    raise _NotProcessed(
                        f"{doubt.detail}; no refund {refund_vendor_tx_code}"
                    ) from None
                return found
            if reply.get("Status") != "OK":
                raise _refused("refund", reply)
            return SharedProtocolResult(
                tx_type="REFUND",
                status="OK",
                status_detail=reply.get("StatusDetail", ""),
                transaction_id=reply.get("VPSTxId", ""),
                vendor_tx_code=refund_vendor_tx_code,
                tx_auth_no=reply.get("TxAuthNo") or None,
                amount=amount,
            )

        return self._with_retries("refund", refund_vendor_tx_code, attempt)

    # -- the state before and after ---------------------------------------------------------

    def _reference(self, transaction: ServerTransaction, tx_type: str) -> dict[str, str]:
        return {
            "VPSProtocol": PROTOCOL,
            "TxType": tx_type,
            "Vendor": self._credentials.vendor_name,
            "VendorTxCode": transaction.vendor_tx_code,
            "VPSTxId": transaction.vps_tx_id,
            "SecurityKey": transaction.security_key,
            "TxAuthNo": transaction.tx_auth_no,
        }

    def transaction_detail(self, vps_tx_id: str) -> TransactionDetail:
        """Opayo's Reporting record of a Server transaction (its txstateid says where it is)."""
        return self._reporting.get_transaction_detail(vps_tx_id=vps_tx_id)

    def _state(self, transaction: ServerTransaction) -> str:
        return (self.transaction_detail(transaction.vps_tx_id).tx_state_id or "").strip()

    def _instruct(
        self,
        tx_type: str,
        transaction: ServerTransaction,
        form: Mapping[str, str],
        amount: Money | None = None,
    ) -> SharedProtocolResult:
        operation = tx_type.lower()

        def done(detail: str) -> SharedProtocolResult:
            return SharedProtocolResult(
                tx_type=tx_type,
                status="OK",
                status_detail=detail,
                transaction_id=transaction.vps_tx_id,
                vendor_tx_code=transaction.vendor_tx_code,
                tx_auth_no=transaction.tx_auth_no,
                amount=amount,
                recovered=True,
            )

        def decide(state: str) -> SharedProtocolResult | None:
            """None: not applied yet and it may be sent; else what Opayo already did."""
            verdict = _verdict(tx_type, state)
            if verdict == "send":
                return None
            if verdict == "applied":
                return done(f"already {tx_type}D (txstateid {state})")
            raise OpayoInstructionRefused(
                operation, 200, f"txstateid {state or 'missing'}", f"cannot {tx_type} now"
            )

        def attempt() -> SharedProtocolResult:
            try:
                before = self._state(transaction)
            except OpayoError as error:
                raise _NotProcessed(f"state lookup failed: {error}") from None
            earlier = decide(before)
            if earlier is not None:
                return earlier
            try:
                reply = self._post(operation, form)
            except _MaybeProcessed as doubt:
                try:
                    after = self._state(transaction)
                except OpayoError as error:
                    raise PaymentOutcomeUnknown(
                        operation, transaction.vps_tx_id, f"{doubt.detail}; lookup failed: {error}"
                    ) from None
                verdict = _verdict(tx_type, after, after_doubt=True)
                if verdict == "applied":
                    return done(f"{doubt.detail}; {tx_type} applied (txstateid {after})")
                if verdict == "send":
                    raise _NotProcessed(
                        f"{doubt.detail}; not applied (txstateid {after})"
                    ) from None
                raise PaymentOutcomeUnknown(
                    operation, transaction.vps_tx_id, f"{doubt.detail}; txstateid {after}"
                ) from None
            if reply.get("Status") != "OK":
                raise _refused(operation, reply)
            return SharedProtocolResult(
                tx_type=tx_type,
                status="OK",
                status_detail=reply.get("StatusDetail", ""),
                transaction_id=transaction.vps_tx_id,
                vendor_tx_code=transaction.vendor_tx_code,
                tx_auth_no=transaction.tx_auth_no,
                amount=amount,
            )

        return self._with_retries(operation, transaction.vps_tx_id, attempt)

    # -- transport --------------------------------------------------------------------------

    def _post(self, service: str, form: Mapping[str, str]) -> dict[str, str]:
        try:
            response = self._http.post(
                f"{self._base_url}/{service}.vsp", data=dict(form), timeout=self._timeout
            )
        except _NOT_SENT as error:
            raise _NotProcessed(f"{type(error).__name__}: {error}") from error
        except (httpx.TimeoutException, httpx.TransportError) as error:
            raise _MaybeProcessed(f"{type(error).__name__}: {error or 'no response'}") from error
        if response.status_code == 429:
            raise _NotProcessed("HTTP 429 from Opayo")
        if response.status_code >= 500:
            raise _MaybeProcessed(f"HTTP {response.status_code} from Opayo")
        reply = parse_reply(response.text)
        if response.status_code != 200 or "Status" not in reply:
            raise _MaybeProcessed(f"HTTP {response.status_code} without a Status line")
        if reply["Status"] == "ERROR":
            # A fault at Opayo, which may have struck after the change was made.
            raise _MaybeProcessed(f"Status=ERROR: {reply.get('StatusDetail', '')}")
        return reply

    def _with_retries(self, operation: str, reference: str, call: Callable[[], T]) -> T:
        try:
            return call_with_retries(
                call,
                policy=self._retry,
                retryable=lambda error: isinstance(error, _NotProcessed),
                name=f"shared-{operation}",
            )
        except _NotProcessed as not_processed:
            raise OpayoUnavailable(operation, 0, "Unavailable", str(not_processed)) from None


def _verdict(tx_type: str, state: str, *, after_doubt: bool = False) -> str:
    """send | applied | unknown | refused, for an instruction against a transaction in `state`.

    After a post whose answer was lost, only a state that the post would change decides.
    """
    if state == AWAITING_NOTIFICATION_REPLY:
        return "unknown" if after_doubt else "send"
    table = {
        "RELEASE": {DEFERRED_AWAITING_RELEASE: "send", SUCCESSFULLY_AUTHORISED: "applied"},
        "ABORT": {DEFERRED_AWAITING_RELEASE: "send", DEFERRED_ABORTED: "applied"},
        "VOID": {SUCCESSFULLY_AUTHORISED: "send", VOIDED: "applied"},
    }
    return table[tx_type].get(state, "refused")


def _recovered_refund(
    detail: TransactionDetail, vendor_tx_code: str, amount: Money
) -> SharedProtocolResult:
    ok = (detail.tx_state_id or "") == SUCCESSFULLY_AUTHORISED or detail.status.upper() == "OK"
    return SharedProtocolResult(
        tx_type="REFUND",
        status="OK" if ok else (detail.status or "UNKNOWN"),
        status_detail=f"found by Reporting (txstateid {detail.tx_state_id})",
        transaction_id=detail.vps_tx_id,
        vendor_tx_code=vendor_tx_code,
        tx_auth_no=detail.raw.get("vpsauthcode") or None,
        amount=detail.amount or amount,
        recovered=True,
    )


def _refused(operation: str, reply: Mapping[str, str]) -> OpayoInstructionRefused:
    status = reply.get("Status", "")
    code, _, text = reply.get("StatusDetail", "").partition(":")
    code = code.strip() or status
    description = f"{status}: {text.strip() or reply.get('StatusDetail', '')}"
    if code == INVALID_IP_CODE:
        return SourceAddressRefused(
            operation,
            200,
            code,
            f"{description} Opayo accepts Shared Protocol posts only from the vendor's Valid "
            "IPs: register this integration's egress address in MyOpayo (docs/deploy.md)",
        )
    return OpayoInstructionRefused(operation, 200, code, description)
