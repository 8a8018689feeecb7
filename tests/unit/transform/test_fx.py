"""Currency conversion with dated rates, Decimal arithmetic and stated rounding."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from opayo_fba.convert.fx import (
    FxRate,
    FxRateError,
    FxRateMissingError,
    FxRateTable,
    round_to_minor_units,
)
from opayo_fba.model import Money, UnknownCurrencyError

D1, D2 = date(2026, 11, 2), date(2026, 11, 5)


def rate(base: str, quote: str, value: str, on: date) -> FxRate:
    return FxRate(base=base, quote=quote, rate=Decimal(value), as_of=on)


TABLE = FxRateTable(
    [
        rate("GBP", "EUR", "1.1500", D1),
        rate("GBP", "EUR", "1.1723", D2),
        rate("EUR", "JPY", "162.35", D2),
        rate("USD", "BHD", "0.376", D2),
    ]
)


def test_uses_the_latest_rate_on_or_before_the_day() -> None:
    ten_pounds = Money(amount=1000, currency="GBP")
    assert TABLE.convert(ten_pounds, "EUR", D1) == Money(amount=1150, currency="EUR")
    assert TABLE.convert(ten_pounds, "EUR", date(2026, 11, 4)) == Money(amount=1150, currency="EUR")
    assert TABLE.convert(ten_pounds, "EUR", D2) == Money(amount=1172, currency="EUR")


def test_exponents_of_both_currencies_are_respected() -> None:
    assert TABLE.convert(Money(amount=1234, currency="EUR"), "JPY", D2) == Money(
        amount=2003, currency="JPY"
    )  # 12.34 * 162.35 = 2003.399 -> 2003
    assert TABLE.convert(Money(amount=1000, currency="USD"), "bhd", D2) == Money(
        amount=3760, currency="BHD"
    )


def test_inverse_rate_is_derived() -> None:
    euros = Money(amount=1172, currency="EUR")
    # 11.72 / 1.1723 = 9.99744... -> 10.00 GBP
    assert TABLE.convert(euros, "GBP", D2) == Money(amount=1000, currency="GBP")


def test_same_currency_is_identity() -> None:
    money = Money(amount=5, currency="GBP")
    assert TABLE.convert(money, "GBP", date(1999, 1, 1)) is money


def test_missing_and_stale_rates_fail_loudly() -> None:
    with pytest.raises(FxRateMissingError, match="no GBP->USD rate"):
        TABLE.convert(Money(amount=1, currency="GBP"), "USD", D2)
    with pytest.raises(FxRateMissingError, match="on or before 2026-11-01"):
        TABLE.convert(Money(amount=1, currency="GBP"), "EUR", date(2026, 11, 1))
    with pytest.raises(FxRateMissingError, match="more than 7 days"):
        TABLE.convert(Money(amount=1, currency="GBP"), "EUR", date(2026, 11, 30))
    with pytest.raises(UnknownCurrencyError):
        TABLE.convert(Money(amount=1, currency="GBP"), "XYZ", D2)


def test_rounding_is_half_even_unless_stated() -> None:
    assert round_to_minor_units(Decimal("0.125"), "GBP").amount == 12
    assert round_to_minor_units(Decimal("0.135"), "GBP").amount == 14
    assert round_to_minor_units(Decimal("0.125"), "GBP", ROUND_HALF_UP).amount == 13
    assert round_to_minor_units(Decimal("-0.129"), "GBP", ROUND_DOWN).amount == -12
    assert round_to_minor_units(Decimal("1.5"), "JPY").amount == 2
    assert round_to_minor_units(Decimal("1.0005"), "BHD").amount == 1000


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        rate("GBP", "EUR", "0", D1)
    assert info.value.errors()[0]["loc"] == ("rate",)
    with pytest.raises(ValidationError):
        FxRate(base="GBP", quote="EUR", rate=1.17, as_of=D1)  # type: ignore[arg-type]
    with pytest.raises(FxRateError, match="two rates"):
        FxRateTable([rate("GBP", "EUR", "1.1", D1), rate("GBP", "EUR", "1.2", D1)])
    with pytest.raises(FxRateError, match="itself"):
        FxRateTable([rate("GBP", "GBP", "1", D1)])


@given(amount=st.integers(min_value=-(10**12), max_value=10**12))
def test_conversion_is_within_half_a_minor_unit_of_exact(amount: int) -> None:
    money = Money(amount=amount, currency="GBP")
    converted = TABLE.convert(money, "EUR", D2)
    exact = money.to_decimal() * Decimal("1.1723")
    assert abs(converted.to_decimal() - exact) <= Decimal("0.005")
