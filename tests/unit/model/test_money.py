"""Money: integer minor units, exponent-aware parsing and formatting, one-currency arithmetic."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from opayo_fba.model.money import (
    CURRENCY_EXPONENTS,
    CurrencyMismatchError,
    Money,
    MoneyError,
    UnknownCurrencyError,
    currency_exponent,
    sum_money,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("GBP", 2),
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("CLF", 4),
    ],
)
def test_exponents_follow_iso_4217(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("text", "currency", "amount"),
    [
        ("12.34", "GBP", 1234),
        ("1,234.56", "GBP", 123456),
        ("1.234,56", "EUR", 123456),
        ("1 234,56", "EUR", 123456),
        ("1\u00a0234,56", "EUR", 123456),
        ("12,5", "EUR", 1250),
        ("-0,01", "EUR", -1),
        ("+7", "GBP", 700),
        ("1,234", "GBP", 123400),
        ("1.234.567", "EUR", 123456700),
        ("1000", "JPY", 1000),
        ("0.123", "BHD", 123),
        ("1234,567", "BHD", 1234567),
        ("1.230", "EUR", 123000),
        ("  3.10 ", "GBP", 310),
        ("5.000", "BHD", 5000),
    ],
)
def test_parse_accepts_common_decimal_strings(text: str, currency: str, amount: int) -> None:
    if text == "5.000":
        # a lone "." with three digits is ambiguous in a 3-decimal currency unless stated
        with pytest.raises(MoneyError, match="ambiguous"):
            Money.parse(text, currency)
        assert Money.parse(text, currency, decimal_separator=".").amount == amount
        return
    assert Money.parse(text, currency) == Money(amount=amount, currency=currency)


@pytest.mark.parametrize(
    ("text", "currency", "reason"),
    [
        ("1.235", "BHD", "ambiguous"),
        ("0.125", "GBP", "more than 2 decimal places"),
        ("1.5", "JPY", "more than 0 decimal places"),
        ("abc", "GBP", "not a decimal number"),
        ("", "GBP", "not a decimal number"),
        ("1e5", "GBP", "not a decimal number"),
        ("NaN", "GBP", "not a decimal number"),
        ("1,,2", "GBP", "irregularly"),
        ("12,34,567.00", "GBP", "irregularly"),
        ("1.2.3,4,5", "EUR", "more than one decimal separator"),
        ("1", "XXX", "unknown currency"),
    ],
)
def test_parse_rejects_bad_input_with_a_reason(text: str, currency: str, reason: str) -> None:
    with pytest.raises(MoneyError, match=reason):
        Money.parse(text, currency)


def test_explicit_decimal_separator_skips_the_guess() -> None:
    assert Money.parse("1,234", "BHD", decimal_separator=",").amount == 1234
    assert Money.parse("1,234", "BHD", decimal_separator=".").amount == 1234000


def test_float_amount_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        Money(amount=12.5, currency="GBP")  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == ("amount",)
    with pytest.raises(ValidationError):
        Money(amount="1250", currency="GBP")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money(amount=True, currency="GBP")


def test_unknown_currency_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        Money(amount=1, currency="ABC")
    error = info.value.errors()[0]
    assert error["loc"] == ("currency",)
    assert "unknown currency 'ABC'" in error["msg"]
    with pytest.raises(UnknownCurrencyError):
        Money.zero("XAU")


def test_currency_is_normalised_and_model_is_frozen_and_strict() -> None:
    money = Money(amount=5, currency=" gbp ")
    assert money.currency == "GBP"
    with pytest.raises(ValidationError):
        money.amount = 6  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Money(amount=5, currency="GBP", note="x")  # type: ignore[call-arg]


def test_json_round_trip_keeps_integers() -> None:
    money = Money(amount=-123456, currency="BHD")
    text = money.model_dump_json()
    assert text == '{"amount":-123456,"currency":"BHD"}'
    assert Money.model_validate_json(text) == money


def test_formatting_is_exponent_aware() -> None:
    assert Money(amount=1234, currency="GBP").format() == "12.34"
    assert Money(amount=-5, currency="GBP").format() == "-0.05"
    assert Money(amount=1234, currency="JPY").format() == "1234"
    assert Money(amount=1, currency="BHD").format() == "0.001"
    assert str(Money(amount=100, currency="EUR")) == "1.00 EUR"
    assert Money(amount=1234, currency="GBP").to_decimal() == Decimal("12.34")


def test_arithmetic_within_one_currency() -> None:
    a, b = Money(amount=1000, currency="GBP"), Money(amount=250, currency="GBP")
    assert a + b == Money(amount=1250, currency="GBP")
    assert a - b == Money(amount=750, currency="GBP")
    assert -b == Money(amount=-250, currency="GBP")
    assert abs(-b) == b
    assert b * 3 == 3 * b == Money(amount=750, currency="GBP")
    assert b < a
    assert a >= b
    assert not a <= b
    assert a > b
    assert sum_money([a, b, b], "GBP").amount == 1500
    assert sum_money([], "JPY") == Money.zero("JPY")
    assert Money.zero("GBP").is_zero()
    assert (-a).is_negative()


def test_arithmetic_across_currencies_is_refused() -> None:
    gbp, eur = Money(amount=1, currency="GBP"), Money(amount=1, currency="EUR")
    with pytest.raises(CurrencyMismatchError, match="GBP and EUR"):
        _ = gbp + eur
    with pytest.raises(CurrencyMismatchError):
        _ = gbp - eur
    with pytest.raises(CurrencyMismatchError):
        _ = gbp < eur
    with pytest.raises(TypeError):
        _ = gbp * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = gbp + 1  # type: ignore[operator]


def test_from_decimal_is_exact() -> None:
    assert Money.from_decimal(Decimal("12.340"), "GBP").amount == 1234
    with pytest.raises(MoneyError, match="round it explicitly"):
        Money.from_decimal(Decimal("12.345"), "GBP")
    with pytest.raises(MoneyError, match="finite"):
        Money.from_decimal(Decimal("Infinity"), "GBP")


def minor_units_as_text(amount: int, exponent: int) -> str:
    """An independent rendering, integer arithmetic only: 1234 at exponent 2 is "12.34"."""
    whole, fraction = divmod(abs(amount), 10**exponent)
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole}" + (f".{fraction:0{exponent}d}" if exponent else "")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(1234, "GBP", "12.34"), (-5, "EUR", "-0.05"), (1250, "USD", "12.50"), (1000, "GBP", "10.00"),
     (7, "JPY", "7"), (-1234, "BHD", "-1.234"), (10000, "CLF", "1.0000"), (0, "GBP", "0.00")],
)  # fmt: skip
def test_the_oracle_renders_known_amounts(amount: int, currency: str, text: str) -> None:
    assert minor_units_as_text(amount, currency_exponent(currency)) == text
    assert Money(amount=amount, currency=currency).format() == text


@given(amount=st.integers(min_value=-(10**15), max_value=10**15), currency=currencies)
def test_format_then_parse_round_trips(amount: int, currency: str) -> None:
    """Against the oracle, not only against each other: a format and a parse that agree on a
    wrong rendering (trailing zeros dropped, the point moved) would still round-trip."""
    money = Money(amount=amount, currency=currency)
    text = minor_units_as_text(amount, currency_exponent(currency))
    assert money.format() == text
    assert money.to_decimal() == Decimal(text)
    assert Money.parse(text, currency, decimal_separator=".") == money
    assert Money.from_decimal(Decimal(text), currency) == money


@given(
    amount=st.integers(min_value=-(10**12), max_value=10**12),
    currency=st.sampled_from(["GBP", "EUR", "USD", "JPY", "BHD", "CLF"]),
    style=st.sampled_from(["en", "de", "fr", "ch"]),
)
def test_localised_strings_parse_back(amount: int, currency: str, style: str) -> None:
    """A grouped, localised rendering parses back to the same minor units."""
    money = Money(amount=amount, currency=currency)
    whole, _, fraction = f"{abs(money.to_decimal()):.{money.exponent}f}".partition(".")
    group, point = {"en": (",", "."), "de": (".", ","), "fr": (" ", ","), "ch": ("'", ".")}[style]
    grouped = f"{int(whole):,}".replace(",", group)
    text = ("-" if amount < 0 else "") + grouped + (point + fraction if fraction else "")
    assert Money.parse(text, currency, decimal_separator=point) == money  # type: ignore[arg-type]


def test_huge_amounts_are_exact_or_refused() -> None:
    text = "1234567890123456789012345678901.25"
    money = Money.parse(text, "GBP")
    assert money.amount == 123456789012345678901234567890125
    assert money.format() == text
    with pytest.raises(MoneyError, match="too many digits"):
        Money.parse("9" * 90, "GBP")


@given(amount=st.integers(min_value=-(10**40), max_value=10**40), currency=currencies)
def test_round_trip_is_exact_beyond_default_decimal_precision(amount: int, currency: str) -> None:
    money = Money(amount=amount, currency=currency)
    text = minor_units_as_text(amount, currency_exponent(currency))
    assert money.format() == text
    assert Money.parse(text, currency, decimal_separator=".") == money
