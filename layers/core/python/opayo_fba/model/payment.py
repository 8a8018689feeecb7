"""Opayo payments and refunds, from either integration (Pi REST or Server notifications).

A card number never enters these models: the card is described only by its scheme, last four
digits and expiry, which is what Opayo returns and what PCI DSS lets a merchant keep.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from opayo_fba.card_numbers import quote_input
from opayo_fba.model.address import CleanText
from opayo_fba.model.common import OpenFields, OrderId, UtcDatetime
from opayo_fba.model.money import Money
from opayo_fba.model.status import (
    OpayoPiStatus,
    OpayoServerStatus,
    PaymentState,
    PiInstruction,
    TransactionType,
)

PaymentProvider = Literal["pi", "server"]

VendorTxCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9{}._-]+$"
    ),
]
"""Our unique transaction code at Opayo: at most 40 of A-Z a-z 0-9 { } . _ -"""


class CardSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    card_type: CleanText = None
    last_four_digits: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    expiry_date: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    """MMYY, as Opayo returns it."""


class AvsCv2Result(BaseModel):
    """Address Verification and security-code results, in Opayo's words (e.g. "Matched")."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    summary: CleanText = None
    address: CleanText = None
    postal_code: CleanText = None
    security_code: CleanText = None


class PaymentTransaction(BaseModel):
    """One Opayo transaction and what we know of its outcome.

    `status` is Opayo's own word, checked against the vocabulary of `provider`; `state` is the
    canonical reading of status, transaction type and any instruction applied since.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    provider: PaymentProvider
    vendor_tx_code: VendorTxCode
    transaction_id: CleanText = None
    """Pi `transactionId`, or Server `VPSTxId` (with its braces)."""
    transaction_type: TransactionType
    status: Annotated[str, StringConstraints(max_length=32)]
    state: PaymentState
    status_code: CleanText = None
    status_detail: CleanText = None
    instruction: PiInstruction | None = None
    """The last instruction Opayo accepted for this transaction (Pi only)."""
    amount: Money
    surcharge: Money | None = None
    auth_code: CleanText = None
    """Bank authorisation code: Pi `bankAuthorisationCode`, Server `TxAuthNo`."""
    tx_auth_no: CleanText = None
    """Server only: the `TxAuthNo` of the verified notification, which every Shared Protocol
    post (release, abort, refund, void) must quote back."""
    bank_response_code: CleanText = None
    retrieval_reference: CleanText = None
    reference_transaction_id: CleanText = None
    """For Repeat and Refund: the transaction they refer to."""
    avs_cv2: AvsCv2Result | None = None
    three_d_secure_status: CleanText = None
    card: CardSummary | None = None
    order_id: OrderId | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    metadata: OpenFields = Field(default_factory=dict)
    """The merchant's own data kept with the payment for analytics (mapping templates'
    `payment.metadata.*`, e.g. a marketing campaign id); never sent to Opayo."""

    @model_validator(mode="after")
    def _status_in_vocabulary(self) -> PaymentTransaction:
        vocabulary: type[OpayoPiStatus] | type[OpayoServerStatus] = (
            OpayoPiStatus if self.provider == "pi" else OpayoServerStatus
        )
        if self.status not in {member.value for member in vocabulary}:
            known = ", ".join(member.value for member in vocabulary)
            raise ValueError(
                f"status {quote_input(self.status)} is not an Opayo {self.provider} "
                f"status ({known})"
            )
        if self.instruction is not None and self.provider != "pi":
            raise ValueError("instruction applies to Pi transactions only")
        if self.tx_auth_no is not None and self.provider != "server":
            raise ValueError("tx_auth_no applies to Server transactions only")
        if self.surcharge is not None and self.surcharge.currency != self.amount.currency:
            raise ValueError("surcharge must be in the currency of amount")
        return self


RefundStatus = Literal["pending", "succeeded", "failed"]
RefundKind = Literal["compensation", "unshipped", "merchant", "return"]
"""Why a refund was made: a saga compensation (the whole order), units Amazon did not ship,
the shop's or ERP's request (`POST /orders/{id}/refunds`), or a received return."""


class RefundLine(BaseModel):
    """Units of one order line a refund gives back (by its sellerFulfillmentOrderItemId)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    line_id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    quantity: Annotated[int, Field(ge=1, le=250)]


class Refund(BaseModel):
    """A refund of (part of) a captured payment, as a Pi `Refund` transaction."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    order_id: OrderId
    vendor_tx_code: VendorTxCode
    reference_transaction_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    """The Pi transactionId of the payment being refunded."""
    amount: Money
    status: RefundStatus = "pending"
    transaction_id: CleanText = None
    """The refund's own Pi transactionId, once Opayo has answered."""
    reason: CleanText = None
    status_detail: CleanText = None
    requested_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    kind: RefundKind = "compensation"
    request_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    """The caller's refundId (a merchant refund) or our own key (unshipped, return): a second
    request with the same id is the same refund."""
    lines: tuple[RefundLine, ...] = ()
    """The units refunded, when the refund is for units rather than an amount."""

    @model_validator(mode="after")
    def _positive_amount(self) -> Refund:
        if self.amount.amount <= 0:
            raise ValueError(f"amount must be positive, got {self.amount}")
        return self
