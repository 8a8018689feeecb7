"""Typed views of Opayo's answers (Pi transactions, Reporting API records).

`PiTransaction` keeps Pi's answer whole (the saga reads `succeeded`, `status`, `status_detail`
and `transaction_id`); `to_payment_transaction()` gives the canonical PaymentTransaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opayo_fba.model.money import Money

if TYPE_CHECKING:
    from opayo_fba.model.payment import PaymentTransaction


@dataclass(frozen=True)
class PiTransaction:
    transaction_id: str
    transaction_type: str
    status: str
    """Ok, NotAuthed, Rejected, 3DAuth, Malformed, Invalid or Error."""
    status_code: str
    status_detail: str
    amount: Money | None
    retrieval_reference: str | None = None
    bank_authorisation_code: str | None = None
    card_type: str | None = None
    last_four_digits: str | None = None
    vendor_tx_code: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def succeeded(self) -> bool:
        return self.status == "Ok"

    def to_payment_transaction(
        self, *, vendor_tx_code: str | None = None, order_id: str | None = None
    ) -> PaymentTransaction:
        """The canonical PaymentTransaction (via `opayo_fba.convert.opayo_pi`).

        Pi does not echo the vendorTxCode; pass it when this result came from a plain GET.
        """
        from opayo_fba.convert.opayo_pi import payment_from_pi

        code = vendor_tx_code or self.vendor_tx_code
        if not code:
            raise ValueError("vendor_tx_code is required: Pi's answer does not carry it")
        return payment_from_pi(self.raw, vendor_tx_code=code, order_id=order_id)

    @classmethod
    def from_pi(cls, body: dict[str, Any], vendor_tx_code: str | None = None) -> PiTransaction:
        amount = body.get("amount") or {}
        currency = body.get("currency")
        total = amount.get("totalAmount") if isinstance(amount, dict) else None
        card = (body.get("paymentMethod") or {}).get("card") or {}
        return cls(
            transaction_id=str(body.get("transactionId", "")),
            transaction_type=str(body.get("transactionType", "")),
            status=str(body.get("status", "")),
            status_code=str(body.get("statusCode", "")),
            status_detail=str(body.get("statusDetail", "")),
            amount=Money(amount=int(total), currency=currency)
            if isinstance(total, int) and currency
            else None,
            retrieval_reference=_str_or_none(body.get("retrievalReference")),
            bank_authorisation_code=_str_or_none(body.get("bankAuthorisationCode")),
            card_type=_str_or_none(card.get("cardType")),
            last_four_digits=_str_or_none(card.get("lastFourDigits")),
            vendor_tx_code=vendor_tx_code,
            raw=body,
        )


@dataclass(frozen=True)
class PiInstruction:
    instruction_type: str
    amount: int | None
    date: datetime | None


def _str_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_opayo_time(value: str | None) -> datetime | None:
    """Opayo's timestamps: ISO 8601, or Reporting's `dd/mm/yyyy hh:mm:ss[.fff]` (UK time).

    The Reporting API's local times are read as UTC; callers comparing across days should
    allow for it (Opayo documents no zone).
    """
    if not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for layout in ("%d/%m/%Y %H:%M:%S.%f", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
            try:
                parsed = datetime.strptime(text, layout).replace(tzinfo=UTC)
                break
            except ValueError:
                continue
        else:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
