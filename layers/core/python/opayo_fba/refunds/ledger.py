"""What an order's refunds have given back so far, and what may still be given back."""

from __future__ import annotations

from opayo_fba.errors import ConflictError
from opayo_fba.model import Money
from opayo_fba.refunds.allocation import count_units
from opayo_fba.store.orders import OrderRecord


def refunded_units(record: OrderRecord) -> dict[str, int]:
    """Units of each line refunded or being refunded (a refused refund gave nothing back)."""
    return count_units(
        (line.line_id, line.quantity)
        for refund in record.refunds
        if refund.status != "failed"
        for line in refund.lines
    )


def refundable(record: OrderRecord) -> Money:
    """What may still be refunded: captured less what is refunded or being refunded."""
    captured = record.captured
    if captured is None:
        raise ConflictError(
            f"order {record.order_id} has no captured payment to refund"
            + ("; cancel it instead" if record.outcome is None else f" ({record.outcome})")
        )
    given = sum(r.amount.amount for r in record.refunds if r.status != "failed")
    return Money(amount=max(captured.amount - given, 0), currency=captured.currency)
