"""What a sandbox instance is built from: credentials, stock, clock, faults, notification targets.

Every default here is documented in docs/sandbox-amazon.md; tests and `python -m sandbox.amazon`
override them with flags, environment variables or keyword arguments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sandbox.common.faults import FaultConfig

NOTIFICATION_TYPES = (
    "FULFILLMENT_ORDER_STATUS",
    "ORDER_CHANGE",
    "REPORT_PROCESSING_FINISHED",
    "FBA_INVENTORY_AVAILABILITY_CHANGES",
)


class Credentials(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    refresh_token: str = "Atzr|sandbox-refresh-token"
    seller_id: str = "A1SANDBOXSELLER"
    # The seller's home marketplace, and the others it sells in (sandbox/amazon/pools.py:
    # UK and EU marketplaces draw on separate stock pools).
    marketplace_id: str = "A1F83G8C2ARO7P"
    marketplace_ids: tuple[str, ...] = ()
    application_id: str = "amzn1.sellerapps.app.sandbox-opayo-fba"

    @property
    def enabled_marketplaces(self) -> tuple[str, ...]:
        """Every marketplace the seller sells in, the home marketplace first."""
        others = [m for m in self.marketplace_ids if m != self.marketplace_id]
        return (self.marketplace_id, *dict.fromkeys(others))


class SkuStock(BaseModel):
    """A SKU the sandbox's fulfillment network holds, with prices in minor units."""

    model_config = ConfigDict(frozen=True)

    sku: str = Field(min_length=1, max_length=50)
    quantity: int = Field(ge=0)
    asin: str
    title: str
    unit_price_minor: int = Field(ge=0)
    currency: str = Field(default="GBP", pattern=r"^[A-Z]{3}$")
    # The MCF per-unit fulfillment fee Amazon charges; appears in settlement reports.
    mcf_fee_minor: int = Field(default=285, ge=0)
    weight_grams: int = Field(default=350, gt=0)
    # The stock pool the units are in (sandbox/amazon/pools.py: "UK", "EU"); None: the pool
    # of the seller's home marketplace. A SKU may be listed once per pool.
    pool: str | None = Field(default=None, min_length=1)


# EU product names with accents and ™, as merchants' listings carry them: report documents
# must survive being served as Cp1252 (reports.py).
DEFAULT_SKUS: tuple[SkuStock, ...] = (
    SkuStock(
        sku="OPF-MUG-BLUE",
        quantity=100,
        asin="B0SANDBX01",
        title="Tasse émaillée bleue – Enamel mug™",
        unit_price_minor=1299,
    ),
    SkuStock(
        sku="OPF-TEE-M",
        quantity=50,
        asin="B0SANDBX02",
        title="T-Shirt aus Bio-Baumwolle, Größe M",
        unit_price_minor=1999,
        mcf_fee_minor=325,
    ),
    SkuStock(
        sku="OPF-CAP-RED",
        quantity=3,
        asin="B0SANDBX03",
        title="Gorra de béisbol, roja",
        unit_price_minor=1499,
    ),
    SkuStock(
        sku="OPF-OUT-OF-STOCK",
        quantity=0,
        asin="B0SANDBX04",
        title="Lanterne « Nuit » (épuisée)",
        unit_price_minor=2999,
    ),
)


class NotificationTarget(BaseModel):
    """Where notifications go: an SQS queue URL (boto3, optional endpoint_url) or an HTTP URL."""

    kind: Literal["sqs", "http"]
    url: str = Field(min_length=1)
    # For SQS against moto or LocalStack; None means the default AWS endpoint resolution.
    endpoint_url: str | None = None
    region: str = "eu-west-2"
    notification_types: list[str] = Field(default_factory=lambda: list(NOTIFICATION_TYPES))

    @field_validator("notification_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(NOTIFICATION_TYPES))
        if unknown:
            raise ValueError(f"unknown notification types {unknown}; known: {NOTIFICATION_TYPES}")
        return value


class RateLimit(BaseModel):
    rate: float = Field(gt=0)
    burst: int = Field(ge=1)


class AmazonSandboxOptions(BaseModel):
    """Everything `create_app` needs; all fields have documented defaults."""

    clock_factor: float = Field(default=1.0, ge=0)
    clock_start: datetime | None = None
    seed: int = 0
    sqlite_path: str | None = None
    credentials: Credentials = Field(default_factory=Credentials)
    skus: list[SkuStock] = Field(default_factory=lambda: list(DEFAULT_SKUS))
    notification_targets: list[NotificationTarget] = Field(default_factory=list)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    rate_limits_enabled: bool = True
    rate_limit_overrides: dict[str, RateLimit] = Field(default_factory=dict)
    # Multiplies every refill rate (e.g. 100 for fast tests on a running clock).
    rate_limit_scale: float = Field(default=1.0, gt=0)
    # Real seconds a "lost_response" fault keeps the client waiting before hanging up.
    lost_response_hang_seconds: float = Field(default=30.0, ge=0)
    # How long an LWA access token or RDT lives, in sandbox seconds (Amazon: 3600). A fast
    # local clock would otherwise expire tokens that clients cache for an hour of real time.
    token_lifetime_seconds: int = Field(default=3600, ge=1)
    # Settlement reports close every `settlement_period_days` (sandbox clock).
    settlement_period_days: int = Field(default=14, ge=1)
    # Background thread that moves state on as the clock runs; tests may turn it off.
    background_ticks: bool = True
    seed_amazon_orders: bool = True
    # How many responses, notifications and delivery results are kept for inspection; None
    # keeps all (tests validate every one); `python -m sandbox.amazon` keeps the last 1000.
    history_limit: int | None = Field(default=None, ge=1)

    @field_validator("clock_start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("clock_start must be timezone-aware (UTC)")
        return value
