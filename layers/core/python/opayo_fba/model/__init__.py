"""Canonical pydantic models shared by every connector, handler and report."""

from opayo_fba.model.money import (
    CURRENCY_CODES,
    CURRENCY_EXPONENTS,
    CurrencyCode,
    CurrencyMismatchError,
    Money,
    MoneyError,
    UnknownCurrencyError,
    currency_exponent,
    sum_money,
)

__all__ = [
    "CURRENCY_CODES",
    "CURRENCY_EXPONENTS",
    "CurrencyCode",
    "CurrencyMismatchError",
    "Money",
    "MoneyError",
    "UnknownCurrencyError",
    "currency_exponent",
    "sum_money",
]
