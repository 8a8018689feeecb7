"""Money: integer minor units plus an ISO 4217 currency, never a float.

The exponent of each currency (GBP 2, JPY 0, BHD 3, CLF 4) comes from the ISO 4217 list of
active codes (table A.1). Funds and metal codes (XAU, XDR, ...) have no minor unit and are
not accepted: nothing we sell or settle is priced in them.

Parsing accepts the decimal strings that Opayo, Amazon and ERP exports produce: "1234.56",
"1,234.56", "1.234,56" (decimal comma), "1 234,56", "-12.30". A string with more fractional
digits than the currency allows is rejected unless the extra digits are zeros; rounding is
a business decision (see `opayo_fba.convert.fx`), never a side effect of parsing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Context, Decimal, Inexact, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StrictInt

from opayo_fba.card_numbers import quote_input
from opayo_fba.errors import InvalidInputError


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ISO 4217 active codes (the list of 1 January 2026: BGN and ANG withdrawn, XAD added) whose
# minor unit is not 2. Every other code in CURRENCY_CODES has 2. Funds, metals and testing
# codes without a minor unit (XAU, XDR, XTS, ...) are not money a shop takes.
_EXPONENT_0 = _codes("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
_EXPONENT_3 = _codes("BHD IQD JOD KWD LYD OMR TND")
_EXPONENT_4 = _codes("CLF UYW")
_EXPONENT_2 = _codes("""
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD
    KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD
    NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP
    SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED
    VES WST XAD XCD XCG YER ZAR ZMW ZWG
    """)

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_EXPONENT_2, 2),
    **dict.fromkeys(_EXPONENT_0, 0),
    **dict.fromkeys(_EXPONENT_3, 3),
    **dict.fromkeys(_EXPONENT_4, 4),
}
"""ISO 4217 code -> number of digits after the decimal point."""

CURRENCY_CODES: frozenset[str] = frozenset(CURRENCY_EXPONENTS)


class MoneyError(InvalidInputError, ValueError):
    """An amount or currency is malformed; the message says which and why.

    It is a ValueError so that, raised inside a pydantic validator, it becomes a
    ValidationError that names the field.
    """


class UnknownCurrencyError(MoneyError):
    """A currency code is not an active ISO 4217 code."""


class CurrencyMismatchError(MoneyError):
    """Arithmetic or comparison between two different currencies."""


def currency_exponent(currency: str) -> int:
    """The number of minor-unit digits of an ISO 4217 currency (GBP 2, JPY 0, BHD 3)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrencyError(
            f"unknown currency {quote_input(currency)}: "
            "expected an active ISO 4217 code such as GBP"
        ) from None


def _normalise_currency(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().upper()
    return value


def _check_currency(value: str) -> str:
    currency_exponent(value)
    return value


_EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])
"""Scaling by a power of ten must never round: any digit it would drop is an error."""

CurrencyCode = Annotated[str, BeforeValidator(_normalise_currency), AfterValidator(_check_currency)]
"""An active ISO 4217 code, upper-cased; use it for any `currency` field."""

DecimalSeparator = Literal[".", ","]

_NUMBER = re.compile(r"^[+-]?[0-9][0-9., \u00a0\u202f']*$")


def _infer_decimal_separator(text: str, exponent: int) -> DecimalSeparator | None:
    last_dot, last_comma = text.rfind("."), text.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        return "." if last_dot > last_comma else ","
    if last_dot < 0 and last_comma < 0:
        return None
    separator: DecimalSeparator = "." if last_dot >= 0 else ","
    if text.count(separator) > 1:
        return None  # "1.234.567": only a grouping separator repeats
    whole, _, fraction = text.partition(separator)
    lead = whole.lstrip("+-")
    if len(fraction) == 3 and 1 <= len(lead) <= 3 and not lead.startswith("0"):
        if exponent < 3:
            return None  # "1,234" for GBP cannot mean 1.234 pounds
        raise MoneyError(
            f"amount {quote_input(text)} is ambiguous for a currency with {exponent} decimals: "
            "pass decimal_separator='.' or ','"
        )
    return separator


def _plain_decimal(text: str, decimal_separator: DecimalSeparator | None, exponent: int) -> str:
    """Return `text` without grouping and with '.' as the decimal point, or raise."""
    if decimal_separator is None:
        decimal_separator = _infer_decimal_separator(text, exponent)
    whole, fraction = text, ""
    if decimal_separator is not None:
        if text.count(decimal_separator) > 1:
            raise MoneyError(f"amount {quote_input(text)} has more than one decimal separator")
        whole, _, fraction = text.partition(decimal_separator)
        if not fraction.isdigit() and fraction:
            raise MoneyError(f"amount {quote_input(text)} has a separator after the decimal point")
    sign = whole[:1] if whole[:1] in ("+", "-") else ""
    digits = whole[len(sign) :]
    groupers = {ch for ch in digits if not ch.isdigit()}
    if groupers:
        if len(groupers) > 1 or not re.fullmatch(r"[0-9]{1,3}(?:\D[0-9]{3})+", digits):
            raise MoneyError(
                f"amount {quote_input(text)} groups its digits irregularly: use groups of three "
                "separated by one character, e.g. 1,234,567.89 or 1.234.567,89"
            )
        digits = re.sub(r"\D", "", digits)
    return sign + digits + ("." + fraction if fraction else "")


class Money(BaseModel):
    """An amount of one currency in integer minor units (pence, cents, yen, fils).

    `Money(amount=1234, currency="GBP")` is £12.34. Arithmetic is only defined within one
    currency; mixing currencies raises CurrencyMismatchError.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    amount: StrictInt
    """Minor units; negative for credits and refunds."""
    currency: CurrencyCode

    # -- construction -----------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        currency_exponent(_normalise_currency(currency))
        return cls(amount=0, currency=currency)

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str) -> Money:
        """Exact conversion; raises MoneyError if `value` has more digits than allowed."""
        exponent = currency_exponent(_normalise_currency(currency))
        if not value.is_finite():
            raise MoneyError(f"amount {value!r} is not a finite number")
        try:
            scaled = value.scaleb(exponent, context=_EXACT)
        except (Inexact, InvalidOperation):
            raise MoneyError(f"amount {value} has too many digits to hold exactly") from None
        if scaled != scaled.to_integral_value():
            raise MoneyError(
                f"amount {value} has more than {exponent} decimal places for {currency}; "
                "round it explicitly (see opayo_fba.convert.fx.round_to_minor_units)"
            )
        return cls(amount=int(scaled), currency=currency)

    @classmethod
    def parse(
        cls,
        text: str,
        currency: str,
        *,
        decimal_separator: DecimalSeparator | None = None,
    ) -> Money:
        """Parse a decimal string in major units: "12.34", "1.234,56", "-0,5", "1 000".

        With `decimal_separator=None` the separator is inferred: when both '.' and ','
        appear the last one is the decimal point; a separator that repeats groups thousands.
        A lone separator between 1-3 leading digits (not starting with 0) and exactly three
        more ("1,234", "1.234") groups thousands in a currency with fewer than three
        decimals and is ambiguous (MoneyError) in one with three or more. Any other lone
        separator is the decimal point. Callers that know the locale should pass
        `decimal_separator` and skip the guessing.
        """
        if not isinstance(text, str):
            raise MoneyError(f"amount must be a decimal string, got {type(text).__name__}")
        code = _normalise_currency(currency)
        exponent = currency_exponent(code)
        stripped = text.strip()
        if not _NUMBER.match(stripped):
            raise MoneyError(f"amount {quote_input(text)} is not a decimal number")
        plain = _plain_decimal(stripped, decimal_separator, exponent)
        try:
            value = Decimal(plain)
        except InvalidOperation:
            raise MoneyError(f"amount {quote_input(text)} is not a decimal number") from None
        return cls.from_decimal(value, code)

    # -- views ------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (Decimal("12.34") for 1234 GBP)."""
        return Decimal(self.amount).scaleb(-self.exponent, context=_EXACT)

    def format(self) -> str:
        """Plain decimal string in major units, '.' as decimal point: "-1234.50"."""
        return f"{self.to_decimal():.{self.exponent}f}"

    def __str__(self) -> str:
        return f"{self.format()} {self.currency}"

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_negative(self) -> bool:
        return self.amount < 0

    # -- arithmetic within one currency -------------------------------------------------

    def _same_currency(self, other: object, operation: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {operation} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {operation} {self.currency} and {other.currency}; "
                "convert one of them first (opayo_fba.convert.fx)"
            )
        return other

    def __add__(self, other: Money) -> Money:
        other = self._same_currency(other, "add")
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        other = self._same_currency(other, "subtract")
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __abs__(self) -> Money:
        return Money(amount=abs(self.amount), currency=self.currency)

    def __mul__(self, factor: int) -> Money:
        """Multiply by a whole number (a quantity). Fractions go through fx rounding."""
        if not isinstance(factor, int) or isinstance(factor, bool):
            raise TypeError("Money can only be multiplied by an int (e.g. a quantity)")
        return Money(amount=self.amount * factor, currency=self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same_currency(other, "compare").amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same_currency(other, "compare").amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same_currency(other, "compare").amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same_currency(other, "compare").amount


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """Sum amounts of one currency; an empty iterable gives zero of `currency`."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total
