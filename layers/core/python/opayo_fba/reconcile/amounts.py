"""Decimal amount strings from settlement files -> integer minor units, never via float.

The hot loop of a million settlement rows cannot afford a pydantic model per amount, so the
common shapes ("-12.34", "12,34", "7") are parsed here with str/int only; anything else
("1.234,56", "1 234,56", "1,234") goes to `Money.parse`, which owns the rules for grouping
and decimal commas. Both give the same answer where both apply (tested).
"""

from __future__ import annotations

from opayo_fba.model.money import Money, MoneyError
from opayo_fba.model.money import currency_exponent as _money_exponent

__all__ = ["currency_exponent", "format_minor", "to_minor"]


def currency_exponent(currency: str) -> int:
    """Decimal places of an active ISO 4217 code; ValueError naming the code otherwise."""
    return _money_exponent(currency)


def to_minor(text: str, exponent: int, currency: str) -> int:
    """Parse a signed decimal string in major units into minor units of `currency`.

    ValueError (a MoneyError) when the text is not an amount or has more decimal places
    than the currency (trailing zeros beyond them are fine).
    """
    body = text.strip()
    sign = body[:1]
    digits = body[1:] if sign in ("-", "+") else body
    whole, separator, fraction = digits.partition(".")
    if not separator:
        whole, separator, fraction = digits.partition(",")
    if (
        whole.isascii()
        and whole.isdigit()  # also rules out an empty whole part: ".5" goes to Money
        and (not separator or (fraction.isascii() and fraction.isdigit()))
        and len(fraction) <= exponent
    ):
        value = int(whole + fraction.ljust(exponent, "0"))
        return -value if sign == "-" else value
    if not body:
        raise MoneyError("amount is empty")
    return int(Money.parse(body, currency).amount)


def format_minor(amount: int, exponent: int) -> str:
    """Minor units back to a plain decimal string ("-12.34"), for humans and CSV."""
    if exponent == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"
