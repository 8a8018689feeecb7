"""What lines and units are worth when they are refunded (opayo_fba.refunds.allocation)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opayo_fba.errors import InvalidInputError
from opayo_fba.model import Money, Order
from opayo_fba.refunds.allocation import goods_paid, line_values, units_refund, units_value


def gbp(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "GBP"}


def order(lines: list[dict[str, Any]], totals: dict[str, Any] | None = None) -> Order:
    return Order.model_validate(
        {
            "order_id": "W-1",
            "channel": "web",
            "placed_at": "2026-11-28T10:15:00Z",
            "currency": "GBP",
            "lines": lines,
            **({"totals": totals} if totals else {}),
        }
    )


def test_line_values_are_price_plus_tax_less_discount_when_they_add_up() -> None:
    placed = order(
        [
            {"line_id": "A", "sku": "RED", "quantity": 2, "unit_price": gbp(1000), "tax": gbp(400)},
            {"sku": "BLUE", "quantity": 1, "unit_price": gbp(500), "discount": gbp(100)},
        ]
    )
    assert line_values(placed) == {
        "A": Money(amount=2400, currency="GBP"),
        "2": Money(amount=400, currency="GBP"),
    }


def test_shipping_is_not_part_of_the_goods_and_an_order_discount_is_shared_out() -> None:
    placed = order(
        [
            {"sku": "RED", "quantity": 3, "unit_price": gbp(1000)},
            {"sku": "BLUE", "quantity": 1, "unit_price": gbp(1000)},
        ],
        totals={"grand_total": gbp(3799), "shipping": gbp(399), "discount": gbp(600)},
    )
    assert goods_paid(placed) == Money(amount=3400, currency="GBP")
    values = line_values(placed)
    assert values == {
        "1": Money(amount=2550, currency="GBP"),
        "2": Money(amount=850, currency="GBP"),
    }


def test_units_share_the_line_value_and_all_units_give_it_back_exactly() -> None:
    value = Money(amount=1000, currency="GBP")
    parts = [units_value(value, 3, already, 1) for already in range(3)]
    assert [p.amount for p in parts] == [333, 333, 334]
    with pytest.raises(InvalidInputError, match="exceed"):
        units_value(value, 3, 2, 2)


def test_an_unknown_line_is_named() -> None:
    placed = order([{"sku": "RED", "quantity": 1, "unit_price": gbp(100)}])
    with pytest.raises(InvalidInputError, match="no line 'X'"):
        units_refund(placed, {"X": 1}, {})


@given(
    prices=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 9999)), min_size=1, max_size=5),
    discount=st.integers(0, 500),
    shipping=st.integers(0, 999),
    splits=st.data(),
)
def test_refunding_every_unit_in_any_split_gives_back_exactly_the_goods_paid(
    prices: list[tuple[int, int]], discount: int, shipping: int, splits: st.DataObject
) -> None:
    goods = sum(quantity * price for quantity, price in prices)
    discount = min(discount, goods)
    placed = order(
        [{"sku": f"S{i}", "quantity": q, "unit_price": gbp(p)} for i, (q, p) in enumerate(prices)],
        totals={
            "grand_total": gbp(goods - discount + shipping),
            "shipping": gbp(shipping),
            "discount": gbp(discount),
        },
    )
    values = line_values(placed)
    assert sum(v.amount for v in values.values()) == goods - discount
    refunded = 0
    already: dict[str, int] = {}
    for index, (quantity, _) in enumerate(prices, start=1):
        item = str(index)
        while already.get(item, 0) < quantity:
            units = splits.draw(st.integers(1, quantity - already.get(item, 0)))
            refunded += units_refund(placed, {item: units}, already).amount
            already[item] = already.get(item, 0) + units
    assert refunded == goods - discount
