from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opayo_fba.reconcile.amazon import COLUMNS, SettlementParser
from opayo_fba.reconcile.errors import MalformedInputError
from tests.unit.reconcile.builders import order_fee, row, settlement_lines


def test_summary_and_every_column_of_a_row_are_read() -> None:
    full = {name: "" for name in COLUMNS}
    full.update({
        "transaction-type": "Order", "order-id": "203-1234567-1234567",
        "merchant-order-id": "MCF-1", "adjustment-id": "ADJ-9", "shipment-id": "SHIP-1",
        "marketplace-name": "Amazon.co.uk", "amount-type": "ItemFees",
        "amount-description": "FBAPerUnitFulfillmentFee", "amount": "-2.35",
        "fulfillment-id": "AFN", "posted-date": "2026-11-02",
        "posted-date-time": "2026-11-02 10:11:12 UTC", "order-item-code": "OIC-1",
        "merchant-order-item-id": "MOI-1", "merchant-adjustment-item-id": "MAI-1",
        "sku": "SKU-1", "quantity-purchased": "2", "promotion-id": "PROMO",
    })  # fmt: skip
    del full["settlement-id"]
    parser = SettlementParser(settlement_lines([full], total="-2.35"), "s.txt")
    summary = parser.summary
    assert (summary.settlement_id, summary.total_minor, summary.currency) == ("24601", -235, "GBP")
    assert summary.deposit_date == datetime(2026, 11, 17, tzinfo=UTC)
    (parsed,) = list(parser.rows())
    assert parsed.line == 3
    assert parsed.amount_minor == -235
    assert parsed.merchant_order_id == "MCF-1"
    assert parsed.order_item_code == "OIC-1"
    assert parsed.merchant_adjustment_item_id == "MAI-1"
    assert parsed.quantity_purchased == 2
    assert parsed.promotion_id == "PROMO"
    assert parsed.posted_date == datetime(2026, 11, 2, tzinfo=UTC)
    assert parsed.posted_date_time == datetime(2026, 11, 2, 10, 11, 12, tzinfo=UTC)


def test_decimal_comma_file_with_eu_dates_and_crlf() -> None:
    lines = settlement_lines(
        [order_fee("MCF-1", "-1.234,50"), order_fee("MCF-2", "-0,75")],
        total="-1.235,25",
        currency="EUR",
        dates=("01.11.2026 00:00:00 UTC", "15.11.2026 00:00:00 UTC", "17.11.2026 00:00:00 UTC"),
    )
    parser = SettlementParser((line.replace("\n", "\r\n") for line in lines), "de.txt")
    assert parser.summary.total_minor == -123525
    assert parser.summary.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert [r.amount_minor for r in parser.rows()] == [-123450, -75]


def test_columns_in_another_order_and_trimmed_trailing_fields() -> None:
    columns = tuple(reversed(COLUMNS))
    lines = settlement_lines([order_fee("MCF-1", "-1.00")], total="-1.00", columns=columns)
    assert [r.merchant_order_id for r in SettlementParser(lines, "s").rows()] == ["MCF-1"]
    lines = settlement_lines([order_fee("MCF-1", "-1.00")], total="-1.00")
    lines[2] = lines[2].rstrip("\t\n") + "\n"  # Amazon drops trailing empty fields
    assert [r.amount_minor for r in SettlementParser(lines, "s").rows()] == [-100]


def test_input_is_any_iterable_of_lines_and_is_consumed_lazily() -> None:
    consumed = []

    def lines():  # type: ignore[no-untyped-def]
        for number, line in enumerate(
            settlement_lines([order_fee(f"MCF-{i}", "-1.00") for i in range(5)], total="-5.00")
        ):
            consumed.append(number)
            yield line

    rows = SettlementParser(lines(), "stream").rows()
    next(rows)
    assert len(consumed) == 3  # header, summary, first row: nothing read ahead


@pytest.mark.parametrize(
    ("mutate", "line", "field", "message"),
    [
        (lambda ls: ls.__setitem__(3, ls[3].replace("-2.00", "-2.0.0")), 4, "amount", "amount"),
        (lambda ls: ls.__setitem__(3, ls[3].replace("-2.00", "")), 4, "amount", "empty"),
        (lambda ls: ls.__setitem__(3, ls[3].replace("2026-11-02", "2026-02-30")), 4,
         "posted-date", "not a valid date"),
        (lambda ls: ls.__setitem__(3, ls[3].replace("24601", "999")), 4, "settlement-id",
         "differs"),
        (lambda ls: ls.__setitem__(3, ls[3].rstrip("\n") + "\textra\textra\n"), 4, None,
         "tab-separated fields"),
        (lambda ls: ls.__setitem__(1, ls[1].replace("GBP", "XXX")), 2, "currency", "XXX"),
        (lambda ls: ls.__setitem__(1, ls[1].replace("-3.00", "")), 2, "total-amount",
         "summary"),
        (lambda ls: ls.__setitem__(3, ls[3].replace("\t1\t", "\tone\t")), 4,
         "quantity-purchased", "whole number"),
    ],
)  # fmt: skip
def test_malformed_rows_name_the_line_and_field(mutate, line, field, message) -> None:  # type: ignore[no-untyped-def]
    lines = settlement_lines(
        [order_fee("MCF-1", "-1.00"), order_fee("MCF-2", "-2.00")], total="-3.00"
    )
    mutate(lines)
    with pytest.raises(MalformedInputError, match=message) as raised:
        list(SettlementParser(lines, "bad.txt").rows())
    assert (raised.value.source, raised.value.line, raised.value.field) == ("bad.txt", line, field)
    assert str(raised.value).startswith(f"bad.txt, line {line}")


def test_header_without_required_columns_and_empty_file() -> None:
    with pytest.raises(MalformedInputError, match=r"header lacks .*amount-type") as raised:
        SettlementParser(["settlement-id\ttotal-amount\n"], "x.txt")
    assert raised.value.line == 1
    with pytest.raises(MalformedInputError, match="empty"):
        SettlementParser([], "empty.txt")
    with pytest.raises(MalformedInputError, match="summary row"):
        SettlementParser(settlement_lines([], total="0.00")[:1], "x.txt")


def test_first_data_row_must_be_the_summary() -> None:
    lines = settlement_lines([order_fee("MCF-1", "-1.00")], total="-1.00")
    del lines[1]
    with pytest.raises(MalformedInputError, match="settlement summary") as raised:
        SettlementParser(lines, "x.txt")
    assert raised.value.line == 2


def test_undecodable_bytes_name_the_line() -> None:
    def lines():  # type: ignore[no-untyped-def]
        yield from settlement_lines([row(amount_type="ItemFees", amount="-1.00")], total="-1.00")
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

    with pytest.raises(MalformedInputError, match="not UTF-8") as raised:
        list(SettlementParser(lines(), "x.txt").rows())
    assert raised.value.line == 4


_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\t"
    ),
    max_size=12,
).map(str.strip)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(_TEXT, _TEXT, _TEXT, st.integers(-(10**9), 10**9), st.integers(0, 999)),
        max_size=20,
    )
)
def test_rows_round_trip(rows: list[tuple[str, str, str, int, int]]) -> None:
    cells = [
        row(transaction_type=t, merchant_order_id=m, sku=s, amount_type="ItemFees",
            amount_description="Commission", amount=_amount(a),
            quantity_purchased=str(q))
        for t, m, s, a, q in rows
    ]  # fmt: skip
    parsed = list(SettlementParser(settlement_lines(cells, total="0.00"), "s").rows())
    assert [(r.transaction_type, r.merchant_order_id, r.sku, r.amount_minor, r.quantity_purchased)
            for r in parsed] == rows  # fmt: skip


def _amount(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"
