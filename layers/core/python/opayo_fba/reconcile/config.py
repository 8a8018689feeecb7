"""The chart-of-accounts mapping and the Opayo fee schedule, read from one YAML file.

See config/chart-of-accounts.yaml for an annotated example. The file is validated once;
a mistake fails with the key that is wrong, before any input is read.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from opayo_fba.errors import ConfigurationError
from opayo_fba.model.money import CurrencyCode

WILDCARD = "*"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class AmazonMapping(_Strict):
    """One settlement amount-type/amount-description pair and the account it posts to."""

    amount_type: str = Field(min_length=1)
    amount_description: str = Field(default=WILDCARD, min_length=1)
    account: str = Field(min_length=1)


class ClearingAccounts(_Strict):
    """Where each provider's payouts wait until the bank statement clears them."""

    amazon: str = Field(min_length=1)
    opayo: str = Field(min_length=1)


class OpayoAccounts(_Strict):
    captures: str = Field(min_length=1, description="credited with captured payments")
    refunds: str = Field(min_length=1, description="debited with refunds")
    fees: str = Field(min_length=1, description="debited with Opayo transaction fees")
    fees_payable: str | None = Field(
        default=None,
        min_length=1,
        description="credited with fees Opayo invoices apart (fees_deducted_from_payout: false)",
    )


class CardFee(_Strict):
    """A fee of `percent` of the amount plus a fixed amount in minor units per currency."""

    percent: Decimal = Field(ge=0, le=100)
    fixed_minor: dict[CurrencyCode, int] = Field(default_factory=dict)

    @field_validator("percent", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("write the percentage as a quoted string, e.g. '1.20'")
        return value

    @field_validator("fixed_minor")
    @classmethod
    def _non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        for currency, amount in value.items():
            if amount < 0:
                raise ValueError(f"fixed fee for {currency} is negative")
        return value


class FeeSchedule(_Strict):
    """Opayo publishes no fee data: the merchant's contract is configuration."""

    default: CardFee
    card_types: dict[str, CardFee] = Field(default_factory=dict)
    apply_to_refunds: bool = False
    deducted_from_payout: bool = True
    """True: the batch pays out net of fees. False: Opayo invoices them (accrued)."""

    @field_validator("card_types")
    @classmethod
    def _upper(cls, value: dict[str, CardFee]) -> dict[str, CardFee]:
        return {card.upper(): fee for card, fee in value.items()}


class ReconcileConfig(_Strict):
    clearing: ClearingAccounts
    suspense: str = Field(
        min_length=1, description="receives settlement amounts whose type is not mapped"
    )
    amazon: list[AmazonMapping]
    opayo: OpayoAccounts
    opayo_fee_schedule: FeeSchedule

    def amazon_accounts(self) -> dict[tuple[str, str], str]:
        """(amount-type, amount-description) -> account; description may be the wildcard."""
        table: dict[tuple[str, str], str] = {}
        for mapping in self.amazon:
            key = (mapping.amount_type, mapping.amount_description)
            if key in table and table[key] != mapping.account:
                raise ConfigurationError(
                    f"chart of accounts maps {key[0]}/{key[1]} twice "
                    f"({table[key]!r} and {mapping.account!r}); keep one"
                )
            table[key] = mapping.account
        return table


def load_config(path: Path) -> ReconcileConfig:
    """Read and validate the YAML file; ConfigurationError naming the file and key if bad."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"cannot read chart of accounts {path}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{path} is not valid YAML: {error}") from None
    return parse_config(document, str(path))


def parse_config(document: Any, source: str = "chart of accounts") -> ReconcileConfig:
    try:
        config = ReconcileConfig.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '(top level)'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise ConfigurationError(f"{source}: {problems}") from None
    config.amazon_accounts()
    if not config.opayo_fee_schedule.deducted_from_payout and config.opayo.fees_payable is None:
        raise ConfigurationError(
            f"{source}: opayo.fees_payable is required when "
            "opayo_fee_schedule.deducted_from_payout is false"
        )
    return config


def default_config_path() -> Path:
    """The example shipped beside the package's source, for runs without --config."""
    return Path(__file__).resolve().parents[5] / "config" / "chart-of-accounts.yaml"
