from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opayo_fba.model.money import Money
from opayo_fba.reconcile.amounts import format_minor, to_minor
from opayo_fba.reconcile.dates import parse_amazon_datetime


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.34", "GBP", 1234),
        ("-12.34", "GBP", -1234),
        ("-0.50", "EUR", -50),
        ("+3.1", "GBP", 310),
        ("7", "GBP", 700),
        ("12,34", "EUR", 1234),
        ("-1.234,56", "EUR", -123456),
        ("1,234.56", "USD", 123456),
        ("1 234,56", "EUR", 123456),
        ("1.230", "GBP", 123000),  # Money's rule: a lone 3-digit group is thousands
        ("150", "JPY", 150),
        ("1.234", "BHD", 1234),
        ("2.500", "BHD", 2500),
        ("12.340", "EUR", 1234000),
    ],
)
def test_amounts_in_the_shapes_settlements_use(text: str, currency: str, minor: int) -> None:
    from opayo_fba.reconcile.amounts import currency_exponent

    assert to_minor(text, currency_exponent(currency), currency) == minor


@pytest.mark.parametrize(
    "text", ["", "  ", "abc", "1.2.3,4,5", "12.345,678", "0.001", "--1", "1e3"]
)
def test_malformed_amounts_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        to_minor(text, 2, "GBP")


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from(["GBP", "JPY", "BHD", "EUR"]),
    st.booleans(),
)
def test_fast_path_agrees_with_money_parse(minor: int, currency: str, comma: bool) -> None:
    money = Money(amount=minor, currency=currency)
    text = money.format()
    if comma:
        text = text.replace(".", ",")
    assert to_minor(text, money.exponent, currency) == minor
    separator = "," if comma else "."
    parsed = Money.parse(text, currency, decimal_separator=separator)
    assert to_minor(text, money.exponent, currency) == parsed.amount
    assert format_minor(minor, money.exponent) == money.format()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01 08:00:00 UTC", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T08:00:00+00:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T09:30:00+01:30", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T08:00:00Z", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("01.11.2026 09:00:00 CET", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("01.11.2026", datetime(2026, 11, 1, tzinfo=UTC)),
        ("01/11/2026 08:00:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026/11/01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-07-01 01:00:00 PDT", datetime(2026, 7, 1, 8, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_amazon_date_formats_become_utc(text: str, expected: datetime) -> None:
    parsed = parse_amazon_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "31.02.2026", "2026-11-01 08:00 XYZT"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_amazon_datetime(text)
