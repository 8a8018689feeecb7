"""Opayo transaction fees from the configured schedule: percent of the amount plus a fixed fee."""

from __future__ import annotations

from decimal import Decimal

from opayo_fba.errors import ConfigurationError
from opayo_fba.reconcile.config import CardFee, FeeSchedule

_PPM = Decimal(10_000)  # percent -> parts per million


class FeeCalculator:
    """fee(card, currency, amount) in minor units, rounded half up; rates cached as ints."""

    def __init__(self, schedule: FeeSchedule) -> None:
        self._schedule = schedule
        self._rates: dict[tuple[str, str], tuple[int, int]] = {}

    def _rate(self, card_type: str, currency: str) -> tuple[int, int]:
        fee: CardFee = self._schedule.card_types.get(card_type, self._schedule.default)
        scaled = fee.percent * _PPM
        if scaled != scaled.to_integral_value():
            raise ConfigurationError(
                f"fee percent {fee.percent} for card type {card_type or 'default'} has more "
                "than four decimal places"
            )
        if fee.fixed_minor and currency not in fee.fixed_minor:
            raise ConfigurationError(
                f"the fee schedule has no fixed fee in {currency} for card type "
                f"{card_type or 'default'}: add {currency} under its fixed_minor"
            )
        rate = (int(scaled), fee.fixed_minor.get(currency, 0))
        self._rates[(card_type, currency)] = rate
        return rate

    def fee(self, card_type: str, currency: str, amount_minor: int) -> int:
        rate = self._rates.get((card_type, currency))
        if rate is None:
            rate = self._rate(card_type, currency)
        ppm, fixed = rate
        return (amount_minor * ppm + 500_000) // 1_000_000 + fixed

    @property
    def apply_to_refunds(self) -> bool:
        return self._schedule.apply_to_refunds
