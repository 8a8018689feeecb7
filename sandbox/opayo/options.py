"""The Opayo sandbox's options: credentials, clock, faults, storage, fees and notifications."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from sandbox.common.faults import FaultConfig

DEFAULT_VENDOR = "sandbox"
DEFAULT_INTEGRATION_KEY = "sandbox-integration-key"
DEFAULT_INTEGRATION_PASSWORD = "sandbox-integration-password"
DEFAULT_REPORTING_USER = "sandbox-user"
DEFAULT_REPORTING_PASSWORD = "sandbox-password"


class FeeRule(BaseModel):
    """Opayo's fee for one settled transaction: a fixed part plus a percentage of the amount."""

    fixed_minor: int = Field(default=0, ge=0)
    percent: Decimal = Field(default=Decimal("0"), ge=0, le=100)


def _default_fees() -> dict[str, FeeRule]:
    # No public fee schedule exists; these are plausible merchant terms, overridable.
    return {
        "VISA": FeeRule(fixed_minor=2, percent=Decimal("1.20")),
        "MC": FeeRule(fixed_minor=2, percent=Decimal("1.20")),
        "DELTA": FeeRule(fixed_minor=2, percent=Decimal("0.40")),
        "MCDEBIT": FeeRule(fixed_minor=2, percent=Decimal("0.40")),
        "UKE": FeeRule(fixed_minor=2, percent=Decimal("0.40")),
        "AMEX": FeeRule(fixed_minor=0, percent=Decimal("2.50")),
        "*": FeeRule(fixed_minor=2, percent=Decimal("1.50")),
    }


def _default_acquirers() -> dict[str, str]:
    return {"AMEX": "American Express", "*": "Elavon"}


class NotificationFaults(BaseModel):
    """Faults on the notifications the sandbox sends (Opayo does duplicate them)."""

    seed: int = 0
    duplicate_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    # Send each round of due notifications newest first.
    reorder: bool = False
    # Queue notifications without sending them until `hold` is switched off.
    hold: bool = False


class OpayoSandboxOptions(BaseModel):
    vendor: str = DEFAULT_VENDOR
    integration_key: str = DEFAULT_INTEGRATION_KEY
    integration_password: str = DEFAULT_INTEGRATION_PASSWORD
    reporting_user: str = DEFAULT_REPORTING_USER
    reporting_password: str = DEFAULT_REPORTING_PASSWORD
    # The clock: factor 0 freezes it (tests move it with POST /_sandbox/clock/advance).
    clock_factor: float = Field(default=1.0, ge=0)
    clock_start: datetime | None = None
    faults: FaultConfig = Field(default_factory=FaultConfig)
    notification_faults: NotificationFaults = Field(default_factory=NotificationFaults)
    sqlite_path: str | None = None
    # Lifetimes on the sandbox clock, in seconds.
    merchant_session_key_ttl: int = Field(default=400, gt=0)
    card_identifier_ttl: int = Field(default=400, gt=0)
    # Multiplies Opayo's retry schedule (5 x 5 min, 15 x 15 min, 13 x 1 h, daily for 29 days).
    notification_retry_scale: float = Field(default=1.0, gt=0)
    # How long, in sandbox seconds, before an unfinished Server transaction is aborted.
    server_abort_after: int = Field(default=900, gt=0)
    # How long, in sandbox seconds, a Pi 3-D Secure challenge may stay unfinished before the
    # transaction is cancelled (our assumption, after the Server Transaction Monitor's 15 min).
    pi_challenge_timeout: int = Field(default=900, gt=0)
    # Real seconds between the notification dispatcher's looks at the clock.
    dispatcher_poll_seconds: float = Field(default=0.05, gt=0, le=5)
    notification_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    lost_response_hang_seconds: float = Field(default=30.0, ge=0, le=120)
    fees: dict[str, FeeRule] = Field(default_factory=_default_fees)
    # Acquiring bank (Reporting API "authprocessorname") per card type; "*" is the fallback.
    acquirers: dict[str, str] = Field(default_factory=_default_acquirers)
    # Rows a getBatchDetail / getTransactionList page holds at most (Opayo's limit is not
    # published; a small value makes batches span several pages).
    reporting_page_rows: int = Field(default=1000, ge=1, le=1000)
    # Two readings of getBatchDetail that no public source settles (docs/sandbox-opayo.md):
    # whether the page carries <totalrows>, and what a row's card-scheme element is called.
    batch_detail_totalrows: bool = False
    batch_detail_card_element: Literal["paymentsystem", "cardtype"] = "paymentsystem"
    # The vendor's "Valid IPs": Server registrations and Shared Protocol posts from any other
    # address are refused with 4020 (sandbox/opayo/valid_ips.py). Loopback by default, where
    # the sandbox listens; `POST /_sandbox/valid-ips` changes it while running.
    valid_ips: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("clock_start must be timezone-aware (UTC)")
        return value

    @field_validator("vendor", "integration_key", "integration_password")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def fee_rule(self, card_type: str) -> FeeRule:
        return self.fees.get(card_type) or self.fees.get("*") or FeeRule()

    # rule: OPAYO-STL-04
    def acquirer(self, card_type: str) -> str:
        return self.acquirers.get(card_type) or self.acquirers.get("*") or "Elavon"
