"""What each line of an order is worth to the customer, and what some of its units are worth.

The rule (docs/refunds.md, "What a refund of units is worth"):
- What the customer paid for goods is the amount due less shipping (`totals.shipping`, when
  the order states it). Shipping is never part of a refund of units: it is refunded only by a
  refund of the whole order (a compensation, or an amount the merchant chooses).
- A line is worth its total plus its tax less its own discount. When those do not add up to
  what was paid for goods (an order-level discount, tax or rounding), what was paid is shared
  out over the lines in proportion to their worth, largest remainders first, so the lines'
  values always add up to it exactly.
- A line's units share its value: the first k units are worth floor(value * k / quantity), so
  refunding every unit of a line, in any number of refunds, gives back its value exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from opayo_fba.convert.fba_outbound import fulfillment_item_id
from opayo_fba.errors import InvalidInputError
from opayo_fba.model import Money, Order, OrderLine


def line_ids(order: Order) -> dict[str, OrderLine]:
    """Every line with a quantity, by its item id (its sellerFulfillmentOrderItemId)."""
    return {
        fulfillment_item_id(line, position): line
        for position, line in enumerate(order.lines, start=1)
        if line.quantity > 0
    }


def _gross(line: OrderLine, currency: str) -> int:
    total = line.total
    if total is None:
        raise InvalidInputError(f"line {line.sku} has no price, so no refund value")
    amount = total.amount
    if line.tax is not None:
        amount += line.tax.amount
    if line.discount is not None:
        amount -= line.discount.amount
    return max(amount, 0)


def goods_paid(order: Order) -> Money:
    """What the customer paid for the goods: the amount due less shipping."""
    due = order.amount_due()
    shipping = order.totals.shipping if order.totals is not None else None
    return due - shipping if shipping is not None else due


def line_values(order: Order) -> dict[str, Money]:
    """Each line's share of what was paid for goods, by item id; they add up to it exactly."""
    paid = goods_paid(order)
    lines = line_ids(order)
    gross = {item_id: _gross(line, paid.currency) for item_id, line in lines.items()}
    total = sum(gross.values())
    if total == paid.amount:
        shares = gross
    elif total == 0:
        shares = _largest_remainders(paid.amount, {item_id: 1 for item_id in gross})
    else:
        shares = _largest_remainders(paid.amount, gross)
    return {
        item_id: Money(amount=value, currency=paid.currency) for item_id, value in shares.items()
    }


def _largest_remainders(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    total = sum(weights.values())
    floors = {key: amount * weight // total for key, weight in weights.items()}
    left = amount - sum(floors.values())
    by_remainder = sorted(weights, key=lambda key: (-(amount * weights[key] % total), key))
    for key in by_remainder[:left]:
        floors[key] += 1
    return floors


def units_value(value: Money, quantity: int, already: int, units: int) -> Money:
    """What `units` more units of a line worth `value` for `quantity` units are worth, when
    `already` of them were refunded before."""
    if units < 0 or already < 0 or already + units > quantity:
        raise InvalidInputError(
            f"{units} units after {already} refunded exceed the line's {quantity}"
        )
    before = value.amount * already // quantity
    after = value.amount * (already + units) // quantity
    return Money(amount=after - before, currency=value.currency)


def units_refund(order: Order, units: Mapping[str, int], already: Mapping[str, int]) -> Money:
    """What the `units` of each line (by item id) are worth, given those `already` refunded."""
    values = line_values(order)
    lines = line_ids(order)
    currency = goods_paid(order).currency
    amount = 0
    for item_id, count in units.items():
        line = lines.get(item_id)
        if line is None:
            known = ", ".join(sorted(lines))
            raise InvalidInputError(f"the order has no line {item_id!r} (its lines: {known})")
        amount += units_value(values[item_id], line.quantity, already.get(item_id, 0), count).amount
    return Money(amount=amount, currency=currency)


def count_units(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item_id, quantity in pairs:
        counts[item_id] = counts.get(item_id, 0) + quantity
    return counts
