"""Double-entry journal entries: one per Amazon settlement, one per Opayo batch and currency.

Every entry is in one currency and its debits equal its credits by construction; the clearing
line carries the net, which is then tied out against what the provider says it paid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class JournalLine:
    account: str
    debit_minor: int
    credit_minor: int
    memo: str


@dataclass(frozen=True, slots=True)
class JournalEntry:
    entry_id: str
    source_kind: str  # "amazon-settlement" | "opayo-batch"
    source_id: str
    source_file: str
    date: datetime
    currency: str
    lines: tuple[JournalLine, ...]
    control_total_minor: int | None
    """What the provider says the net is (settlement total-amount, batch totals)."""
    clearing_minor: int
    """The net this entry posts to the clearing account (debit positive)."""

    @property
    def debits(self) -> int:
        return sum(line.debit_minor for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.credit_minor for line in self.lines)

    def is_balanced(self) -> bool:
        return self.debits == self.credits

    def ties_out(self) -> bool:
        return self.control_total_minor is None or self.control_total_minor == self.clearing_minor


def _line(account: str, amount: int, memo: str) -> JournalLine:
    """A signed amount as a line: positive debits, negative credits."""
    if amount >= 0:
        return JournalLine(account, amount, 0, memo)
    return JournalLine(account, 0, -amount, memo)


def settlement_entry(
    *,
    settlement_id: str,
    source_file: str,
    deposit_date: datetime,
    currency: str,
    total_minor: int,
    amounts: Mapping[tuple[str, str], int],
    clearing_account: str,
) -> JournalEntry:
    """`amounts` maps (account, category) to the settlement's signed sum for them.

    Amazon's amounts are from the seller's view (positive = owed to the seller), so a
    positive amount is income (credit) and the clearing account is debited with the net.
    """
    lines = [
        _line(account, -amount, category)
        for (account, category), amount in sorted(amounts.items())
        if amount
    ]
    net = sum(amounts.values())
    if net:
        lines.append(_line(clearing_account, net, f"Amazon settlement {settlement_id}"))
    return JournalEntry(
        entry_id=f"AMZ-{settlement_id}",
        source_kind="amazon-settlement",
        source_id=settlement_id,
        source_file=source_file,
        date=deposit_date,
        currency=currency,
        lines=tuple(lines),
        control_total_minor=total_minor,
        clearing_minor=net,
    )


@dataclass(slots=True)
class BatchSums:
    """Running sums of one currency in one Opayo batch."""

    captured_minor: int = 0
    refunded_minor: int = 0
    fees_minor: int = 0
    captures: int = 0
    refunds: int = 0
    reported_fees_minor: int = 0
    fee_differences: int = 0


def batch_entry(
    *,
    batch_id: str,
    source_file: str,
    date: datetime,
    currency: str,
    sums: BatchSums,
    control_total_minor: int | None,
    captures_account: str,
    refunds_account: str,
    fees_account: str,
    clearing_account: str,
    fees_payable_account: str | None,
) -> JournalEntry:
    """Captures credit `captures_account`, refunds debit `refunds_account`, fees debit
    `fees_account`. The clearing account takes what the batch pays out: captured - refunded
    - fees when the fees are deducted from the payout (`fees_payable_account` None), else
    captured - refunded with the fees accrued to `fees_payable_account`.
    """
    gross = sums.captured_minor - sums.refunded_minor
    net = gross if fees_payable_account is not None else gross - sums.fees_minor
    candidates = [
        (captures_account, -sums.captured_minor, f"{sums.captures} captures"),
        (refunds_account, sums.refunded_minor, f"{sums.refunds} refunds"),
        (fees_account, sums.fees_minor, "Opayo fees (fee schedule)"),
        (clearing_account, net, f"Opayo batch {batch_id}"),
    ]
    if fees_payable_account is not None:
        candidates.append((fees_payable_account, -sums.fees_minor, "Opayo fees accrued"))
    lines = tuple(_line(account, amount, memo) for account, amount, memo in candidates if amount)
    return JournalEntry(
        entry_id=f"OPY-{batch_id}-{currency}",
        source_kind="opayo-batch",
        source_id=batch_id,
        source_file=source_file,
        date=date,
        currency=currency,
        lines=lines,
        control_total_minor=control_total_minor,
        clearing_minor=net,
    )


def balances_by_currency(entries: Iterable[JournalEntry]) -> dict[str, int]:
    """Debits minus credits of all entries, per currency: all zero for a sound journal."""
    totals: dict[str, int] = {}
    for entry in entries:
        totals[entry.currency] = totals.get(entry.currency, 0) + entry.debits - entry.credits
    return totals
