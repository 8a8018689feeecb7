"""Currency conversion with dated rates, in Decimal, rounded into minor units as stated.

A rate says how many units of `quote` one unit of `base` buys on a date (the ECB's and most
banks' convention: GBP/EUR 1.1723 means £1 = €1.1723). A conversion on day D uses the most
recent rate dated on or before D, and refuses rates older than `max_age_days` (default 7) so a
stale table fails loudly. The inverse pair is derived (1 / rate) when only one direction is
known. Rounding: the exact Decimal product is rounded once, to the target currency's minor
unit, with ROUND_HALF_EVEN ("banker's rounding") unless the caller states another mode.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from opayo_fba.errors import InvalidInputError, NotFoundError
from opayo_fba.model.money import CurrencyCode, Money, currency_exponent

_CONTEXT = Context(prec=34)  # decimal128: exact for any realistic rate x amount


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("give the rate as a decimal string, not a float (floats round)")
    return value


class FxRate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    base: CurrencyCode
    quote: CurrencyCode
    rate: Annotated[Decimal, BeforeValidator(_refuse_float), Field(gt=0, allow_inf_nan=False)]
    """Units of `quote` per one unit of `base`."""
    as_of: date
    source: str | None = None


class FxRateMissingError(NotFoundError, LookupError):
    """No usable rate for the pair on that date."""


class FxRateError(InvalidInputError, ValueError):
    """A rate table is inconsistent (e.g. two different rates for one pair and date)."""


def round_to_minor_units(value: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Money:
    """Round a major-unit Decimal to `currency`'s minor unit with the stated rounding mode."""
    exponent = currency_exponent(currency)
    quantum = Decimal(1).scaleb(-exponent)
    rounded = value.quantize(quantum, rounding=rounding, context=_CONTEXT)
    return Money(amount=int(rounded.scaleb(exponent)), currency=currency)


class FxRateTable:
    """Dated rates for currency pairs, looked up as of a day."""

    def __init__(self, rates: Iterable[FxRate], *, max_age_days: int = 7) -> None:
        self.max_age = timedelta(days=max_age_days)
        by_pair: dict[tuple[str, str], dict[date, FxRate]] = {}
        for rate in rates:
            if rate.base == rate.quote:
                raise FxRateError(f"rate {rate.base}->{rate.quote} converts a currency to itself")
            dated = by_pair.setdefault((rate.base, rate.quote), {})
            known = dated.get(rate.as_of)
            if known is not None and known.rate != rate.rate:
                raise FxRateError(
                    f"two rates for {rate.base}->{rate.quote} on {rate.as_of}: "
                    f"{known.rate} and {rate.rate}"
                )
            dated[rate.as_of] = rate
        self._days = {pair: sorted(dated) for pair, dated in by_pair.items()}
        self._rates = by_pair

    def _latest(self, base: str, quote: str, on: date) -> FxRate | None:
        days = self._days.get((base, quote))
        if not days:
            return None
        index = bisect.bisect_right(days, on) - 1
        if index < 0:
            return None
        return self._rates[(base, quote)][days[index]]

    def rate(self, base: str, quote: str, on: date) -> Decimal:
        """Units of `quote` per unit of `base` as of `on` (1 for the same currency)."""
        if base == quote:
            return Decimal(1)
        direct = self._latest(base, quote, on)
        inverse = self._latest(quote, base, on)
        # Prefer the most recent quotation; on a tie, the direct one.
        if direct is not None and (inverse is None or direct.as_of >= inverse.as_of):
            chosen, value = direct, direct.rate
        elif inverse is not None:
            chosen, value = inverse, _CONTEXT.divide(Decimal(1), inverse.rate)
        else:
            raise FxRateMissingError(f"no {base}->{quote} rate on or before {on.isoformat()}")
        if on - chosen.as_of > self.max_age:
            raise FxRateMissingError(
                f"latest {base}->{quote} rate is from {chosen.as_of.isoformat()}, more than "
                f"{self.max_age.days} days before {on.isoformat()}; load a current rate"
            )
        return value

    def convert(
        self, money: Money, to_currency: str, on: date, *, rounding: str = ROUND_HALF_EVEN
    ) -> Money:
        """`money` in `to_currency` at the rate as of `on`, rounded once into minor units."""
        target = Money.zero(to_currency).currency  # validates and upper-cases the code
        if money.currency == target:
            return money
        exact = _CONTEXT.multiply(money.to_decimal(), self.rate(money.currency, target, on))
        return round_to_minor_units(exact, target, rounding)
