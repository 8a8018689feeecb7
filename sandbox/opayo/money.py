"""Minor units <-> the decimal strings Opayo's Server and Reporting protocols use."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# rule: OPAYO-PI-22
# ISO 4217 exponents of the currencies the sandbox accepts.
CURRENCY_EXPONENTS: dict[str, int] = {
    "GBP": 2,
    "EUR": 2,
    "USD": 2,
    "CAD": 2,
    "AUD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "NZD": 2,
    "HKD": 2,
    "SGD": 2,
    "JPY": 0,
}


def is_supported_currency(code: object) -> bool:
    return isinstance(code, str) and code in CURRENCY_EXPONENTS


def to_decimal_string(amount_minor: int, currency: str) -> str:
    """12345 GBP -> "123.45"; 500 JPY -> "500"."""
    exponent = CURRENCY_EXPONENTS[currency]
    return f"{Decimal(amount_minor).scaleb(-exponent):.{exponent}f}"


# rule: OPAYO-SHP-06
def parse_decimal_amount(text: str, currency: str) -> int:
    """ "12.34" GBP -> 1234. Raises ValueError when not a positive amount with <= exponent dp."""
    exponent = CURRENCY_EXPONENTS[currency]
    stripped = text.strip()
    if not stripped or not all(ch.isdigit() or ch == "." for ch in stripped):
        raise ValueError(f"{text!r} is not an amount like 12.34")
    try:
        value = Decimal(stripped)
    except InvalidOperation as error:
        raise ValueError(f"{text!r} is not an amount like 12.34") from error
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{text!r} has more than {exponent} decimal places for {currency}")
    return int(minor)
