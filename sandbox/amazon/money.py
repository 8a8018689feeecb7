"""Integer minor units to and from the decimal strings SP-API carries. Never a float."""

from __future__ import annotations

import re

from sandbox.amazon.errors import invalid_input

_ZERO_DECIMAL = frozenset({"JPY", "KRW", "HUF"})
_DECIMAL = re.compile(r"^(-?)(\d+)(?:\.(\d+))?$")


def exponent(currency: str) -> int:
    return 0 if currency in _ZERO_DECIMAL else 2


def to_decimal(minor: int, currency: str) -> str:
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(places + 1, "0")
    if places == 0:
        return f"{sign}{digits}"
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def to_minor(value: str, currency: str, field: str) -> int:
    """'12.99' GBP -> 1299; more decimal places than the currency has is a 400 naming `field`."""
    match = _DECIMAL.match(value.strip())
    places = exponent(currency)
    if match is None or len(match.group(3) or "") > places:
        raise invalid_input(f"{field} {value!r} is not a valid {currency} amount.", field)
    sign, whole, fraction = match.groups()
    minor = int(whole) * 10**places + int((fraction or "").ljust(places, "0") or 0)
    result: int = -minor if sign else minor
    return result
