"""The saga's PaymentPort for one transaction registered through Opayo Server.

Pi does not manage Server transactions (reference, "Corrections"), so release, abort and
refund go through the Server & Direct Shared Protocol, which must quote the transaction's
VendorTxCode, VPSTxId, TxAuthNo (from the verified notification) and SecurityKey. The
SecurityKey is opened only when a post is about to be made, through `open_security_key`
(KMS decrypt bound to the order id; only the saga's payment steps and the webhook may).
"""

from __future__ import annotations

from collections.abc import Callable

from opayo_fba.errors import InvalidInputError
from opayo_fba.model import PaymentState
from opayo_fba.model.money import Money
from opayo_fba.opayo.errors import OpayoTransactionNotFound, PaymentOutcomeUnknown
from opayo_fba.opayo.reporting import TransactionDetail
from opayo_fba.opayo.shared_protocol import (
    ServerTransaction,
    SharedProtocolClient,
    SharedProtocolResult,
)
from opayo_fba.saga.ports import ObservedPayment

# Where the money is, from Reporting's txstateid (Sage Pay's list, Stack Overflow 40176413;
# sandbox/opayo/tx_states.py). 16 on a Deferred is "released" only by our assumption
# (docs/sandbox-opayo.md, OPAYO-RPT-03): a batchid confirms it whatever the value.
_HELD = frozenset({"14"})
_ENDED = {"19": PaymentState.ABORTED, "27": PaymentState.ABORTED, "18": PaymentState.VOIDED}
_NEVER_AUTHORISED = frozenset({"8", "9", "10", "11", "12", "13"})
_UNFINISHED = frozenset({"2", "3", "4", "5", "6"})


class ServerPayment:
    def __init__(
        self,
        client: SharedProtocolClient,
        *,
        vendor_tx_code: str,
        vps_tx_id: str,
        tx_auth_no: str,
        open_security_key: Callable[[], str],
    ) -> None:
        self._client = client
        self._vendor_tx_code = vendor_tx_code
        self._vps_tx_id = vps_tx_id
        self._tx_auth_no = tx_auth_no
        self._open_security_key = open_security_key

    def _transaction(self, transaction_id: str) -> ServerTransaction:
        if _guid(transaction_id) != _guid(self._vps_tx_id):
            raise InvalidInputError(
                f"transaction {transaction_id} is not this order's Server transaction"
            )
        if not self._tx_auth_no:
            raise InvalidInputError(
                f"Server transaction {self._vps_tx_id} has no TxAuthNo: no verified "
                "notification authorised it"
            )
        return ServerTransaction(
            vendor_tx_code=self._vendor_tx_code,
            vps_tx_id=self._vps_tx_id,
            security_key=self._open_security_key(),
            tx_auth_no=self._tx_auth_no,
        )

    def observe(self, transaction_id: str) -> ObservedPayment:
        """Where this Server transaction's money is, read from Opayo's Reporting record."""
        if _guid(transaction_id) != _guid(self._vps_tx_id):
            raise InvalidInputError(
                f"transaction {transaction_id} is not this order's Server transaction"
            )
        try:
            detail = self._client.transaction_detail(self._vps_tx_id)
        except OpayoTransactionNotFound:
            return ObservedPayment(PaymentState.NONE, detail="Opayo has no such transaction")
        return observed_from_reporting(detail)

    def release(self, transaction_id: str, amount: Money) -> SharedProtocolResult:
        return self._client.release(self._transaction(transaction_id), amount)

    def abort(self, transaction_id: str) -> SharedProtocolResult:
        return self._client.abort(self._transaction(transaction_id))

    def void(self, transaction_id: str) -> SharedProtocolResult:
        return self._client.void(self._transaction(transaction_id))

    def refund(
        self,
        reference_transaction_id: str,
        amount: Money,
        *,
        refund_id: str,
        description: str,
    ) -> SharedProtocolResult:
        # The refund's VendorTxCode is derived from its id, as for Pi refunds, so a retry
        # reuses it and Opayo's uniqueness check refuses a second refund.
        from opayo_fba.opayo.pi import refund_vendor_tx_code

        return self._client.refund(
            self._transaction(reference_transaction_id),
            amount,
            refund_vendor_tx_code=refund_vendor_tx_code(refund_id),
            description=description,
        )

    def repeat(
        self,
        reference_transaction_id: str,
        amount: Money,
        *,
        vendor_tx_code: str,
        description: str,
    ) -> SharedProtocolResult:
        """Never: a resubmitted order is charged again only through Pi (saga/resubmit.py
        refuses a Server payment before anything is written)."""
        raise InvalidInputError(
            "a payment made through Opayo Server is not charged again by this integration; "
            "take a new payment from the shopper"
        )

    def recover_transaction_id(self, vendor_tx_code: str) -> str | None:
        """Only this order's own transaction is known here (no Repeat is ever made)."""
        return self._vps_tx_id if vendor_tx_code == self._vendor_tx_code else None


def _guid(value: str) -> str:
    return value.strip().strip("{}").upper()


def observed_from_reporting(detail: TransactionDetail) -> ObservedPayment:
    """The decision table from getTransactionDetail to where a Server payment's money is."""
    state = (detail.tx_state_id or "").strip()
    text = f"{detail.transaction_type} txstateid {state or 'missing'}"
    if detail.is_deferred and detail.instruction_applied("release"):
        return ObservedPayment(PaymentState.CAPTURED, detail=text)
    if state in _ENDED:
        return ObservedPayment(_ENDED[state], detail=text)
    if state in _HELD or (state == "7" and detail.is_deferred):
        return ObservedPayment(PaymentState.AUTHORISED, detail=text)
    if state in ("16", "7") and not detail.is_deferred:
        return ObservedPayment(PaymentState.CAPTURED, captured=detail.amount, detail=text)
    if state in _NEVER_AUTHORISED:
        return ObservedPayment(PaymentState.DECLINED, detail=text)
    if state in _UNFINISHED:
        return ObservedPayment(PaymentState.PENDING, detail=text)
    # A value no source explains: money may be held, so nothing is decided on a guess; the
    # step retries and, if Opayo keeps saying it, the compensation stops for an operator.
    raise PaymentOutcomeUnknown("read", detail.vps_tx_id, f"{text} not understood")
