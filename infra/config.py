"""Per-environment configuration, read from cdk.json context and validated with pydantic.

`cdk.json` holds one block per environment under `opayo-fba:environments`; the block to use
is chosen with `-c opayo-fba:environment=<name>` (default: the `opayo-fba:environment` value
in cdk.json). A missing or wrong value stops synthesis with a message that names the field
and says how to fix it. No secret ever lives here: only names of seller accounts and vendors,
whose credentials the operator puts into Secrets Manager after the first deploy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from infra.constants import CONTEXT_ENVIRONMENT, CONTEXT_ENVIRONMENTS
from opayo_fba.errors import ConfigurationError
from opayo_fba.routing import RoutingRules

# EventBridge Scheduler expressions: rate(N unit) or a six-field cron(...).
_RATE = re.compile(r"^rate\(\s*[1-9]\d*\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\(\s*(\S+\s+){5}\S+\s*\)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Identifiers that become part of resource names and secret names.
_IDENTIFIER = r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$"

Identifier = Annotated[str, Field(pattern=_IDENTIFIER)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class SellerAccount(_Model):
    """One Amazon selling-partner account (its LWA credentials go in its own secret)."""

    id: Identifier
    # SP-API regional endpoint: na, eu or fe.
    region: Literal["na", "eu", "fe"]
    marketplace_ids: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{10,14}$")]] = Field(min_length=1)
    # The merchant's SKU mapping for this account: a CSV (`internal_sku,seller_sku[,asin]`) at
    # `s3://<bucket>/<key>`; the inventory poller, the notifications consumer and the order
    # and report pollers read exactly that object. Without it, Amazon's seller SKUs are the
    # shop's SKUs.
    sku_mapping: (
        Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$")] | None
    ) = None


class OpayoVendor(_Model):
    """One Opayo vendor (its Pi integration key and reporting user go in its own secret)."""

    # Opayo vendor names are lower-case letters and digits; they appear in the webhook path.
    name: Annotated[str, Field(pattern=r"^[a-z0-9]{1,40}$")]
    environment: Literal["sandbox", "live"]
    # The merchant's policy for Deferred authorisations nobody captured: abort them once
    # this many days old (None: only alarm). Opayo releases no Deferred after 30 days.
    abort_deferred_after_days: int | None = Field(default=None, ge=1, le=29)


def _check_schedule(value: str) -> str:
    if not (_RATE.match(value) or _CRON.match(value)):
        raise ValueError(
            f"{value!r} is not an EventBridge Scheduler expression; "
            "use e.g. 'rate(5 minutes)' or 'cron(0 2 * * ? *)'"
        )
    return value


class Schedules(_Model):
    """When each poller runs (EventBridge Scheduler expressions, evaluated in UTC)."""

    orders_polling: str
    report_requests: str
    report_polling: str
    opayo_settlement_batch_fetch: str
    opayo_pi_status_polling: str
    # The check for Deferred authorisations held too long (alarm, and abort where set).
    held_authorisations_check: str = "rate(1 hour)"
    # The after-sale tracker: packages followed to delivery (and, later, returns).
    after_sale_tracking: str = "rate(30 minutes)"
    # FBA inventory summaries changed since the last run (getInventorySummaries allows 2/s).
    inventory_polling: str = "rate(5 minutes)"

    @field_validator("*")
    @classmethod
    def _valid_expression(cls, value: str) -> str:
        return _check_schedule(value)


class Egress(_Model):
    """The fixed public address Opayo sees from the functions that post Shared Protocol
    requests (Opayo accepts those only from the merchant's registered "Valid IPs").

    `nat`: `instance` (default) is one fck-nat EC2 instance (cdk-fck-nat) holding the Elastic
    IP; `gateway` is a managed NAT Gateway with the same Elastic IP. docs/deploy.md compares
    their monthly cost. The instance boots from the fck-nat AMI whose id the operator stores,
    once, in the SSM parameter `natAmiParameter` (synthesis stays offline: the id is read at
    deploy time, never looked up).
    """

    nat: Literal["instance", "gateway"] = "instance"
    # The fck-nat AMI is arm64, so the instance is a Graviton burstable type.
    nat_instance_type: Literal["t4g.nano", "t4g.micro", "t4g.small"] = "t4g.nano"
    nat_ami_parameter: Annotated[str, Field(pattern=r"^/[A-Za-z0-9_.\-/]{1,1010}$")] | None = None


class EnvironmentConfig(_Model):
    """Everything that differs between deployments of the same code."""

    name: Identifier
    account: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]
    seller_accounts: list[SellerAccount] = Field(min_length=1)
    opayo_vendors: list[OpayoVendor] = Field(min_length=1)
    alert_email: str
    dlq_max_receive_count: int = Field(ge=1, le=1000)
    schedules: Schedules
    # How long the saga waits between two reads of the fulfillment order status.
    fulfillment_status_poll_seconds: int = Field(default=900, ge=60, le=86_400)
    # What Amazon does when not every unit is in stock: FillOrKill (nothing ships, the order
    # is refunded in full) or FillAllAvailable (what is in stock ships; the units that do not
    # are refunded automatically, docs/refunds.md).
    fulfillment_policy: Literal["FillOrKill", "FillAllAvailable"] = "FillOrKill"
    # What becomes of a Deferred authorisation when Amazon cannot fulfil the order: "abort"
    # (default: the customer's money is released at once) or "hold" (kept, so the order can
    # be resubmitted once stock is back and captured without asking the shopper again; the
    # held-authorisations check alarms on it and aborts it at its limit).
    unfulfillable_authorisations: Literal["abort", "hold"] = "abort"
    # What the merchant keeps of a returned unit's value, in percent, by the condition Amazon
    # received it in; a condition not listed is refunded in full (after_sale/returns.py).
    return_deductions: dict[
        Literal["Sellable", "Defective", "CustomerDamaged", "CarrierDamaged", "FulfillerDamaged"],
        Annotated[int, Field(ge=0, le=100)],
    ] = Field(default_factory=dict)
    # A Deferred authorisation held (authorised, not captured) this many days alarms: an
    # order is stuck before capture, and Opayo lets a Deferred be released for 30 days.
    held_authorisation_alarm_days: int = Field(default=6, ge=1, le=29)
    # A card payment whose order never reached us (intake/abandoned.py) is ended at Opayo
    # once its note is this old: longer than a merchant session key lives (400 s), so the
    # shop's own retries come first.
    abandoned_card_payment_minutes: int = Field(default=15, ge=10, le=1440)
    log_retention_days: Literal[30, 90, 180, 365, 400, 545, 731, 1827, 3653] = 365
    api_throttle_rate_limit: int = Field(default=50, ge=1, le=10_000)
    api_throttle_burst_limit: int = Field(default=100, ge=1, le=5_000)
    # Where Opayo sends the shopper after a Server notification is answered (RedirectURL).
    opayo_redirect_url: Annotated[str, Field(pattern=r"^https://[^\s/$.?#][^\s]*$")]
    # Merchants' mapping templates for the fulfillment request: `starter:<name>` or
    # `s3://<bucket>/<key>` (the validate-and-map step may read exactly those objects).
    mapping_templates: list[
        Annotated[
            str, Field(pattern=r"^(starter:[a-z0-9_-]+|s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+)$")
        ]
    ] = Field(default_factory=list)
    # The merchant's chart of accounts for journal entries (reconcile/config.py's YAML), as
    # `s3://<bucket>/<key>`. Without it reports are archived but not journaled.
    chart_of_accounts: (
        Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+$")] | None
    ) = None
    egress: Egress = Field(default_factory=Egress)
    # Which seller account and marketplace fulfil an order, and which vendor takes its payment,
    # when the order does not name them (opayo_fba/routing/rules.py, docs/deploy.md).
    routing: RoutingRules = Field(default_factory=RoutingRules)

    @model_validator(mode="after")
    def _routes_to_configured_accounts(self) -> EnvironmentConfig:
        """Every rule names a configured seller account, one of its marketplaces, a vendor."""
        marketplaces = {seller.id: seller.marketplace_ids for seller in self.seller_accounts}
        vendors = {vendor.name for vendor in self.opayo_vendors}
        for index, rule in enumerate(self.routing.fulfillment):
            where = f"routing.fulfillment[{index}]"
            if rule.seller_account not in marketplaces:
                raise ValueError(
                    f"{where}.sellerAccount {rule.seller_account!r} is not one of the "
                    f"sellerAccounts ({', '.join(sorted(marketplaces))})"
                )
            if rule.marketplace_id not in marketplaces[rule.seller_account]:
                raise ValueError(
                    f"{where}.marketplaceId {rule.marketplace_id!r} is not a marketplace of "
                    f"{rule.seller_account} ({', '.join(marketplaces[rule.seller_account])})"
                )
        for index, payment in enumerate(self.routing.payments):
            if payment.vendor not in vendors:
                raise ValueError(
                    f"routing.payments[{index}].vendor {payment.vendor!r} is not one of the "
                    f"opayoVendors ({', '.join(sorted(vendors))})"
                )
        return self

    def routing_json(self) -> str | None:
        """The rules as the intake function reads them (ROUTING_RULES); None without rules."""
        if not self.routing.fulfillment and not self.routing.payments:
            return None
        return self.routing.model_dump_json(by_alias=True, exclude_defaults=True)

    @field_validator("alert_email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("seller_accounts")
    @classmethod
    def _unique_sellers(cls, value: list[SellerAccount]) -> list[SellerAccount]:
        ids = [seller.id for seller in value]
        if len(ids) != len(set(ids)):
            raise ValueError(f"seller account ids must be unique, got {ids}")
        return value

    @field_validator("opayo_vendors")
    @classmethod
    def _unique_vendors(cls, value: list[OpayoVendor]) -> list[OpayoVendor]:
        names = [vendor.name for vendor in value]
        if len(names) != len(set(names)):
            raise ValueError(f"Opayo vendor names must be unique, got {names}")
        return value


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_environment(name: str, raw: Any) -> EnvironmentConfig:
    """Validate one environment block; the error names every wrong field by its cdk.json path."""
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"cdk.json context {CONTEXT_ENVIRONMENTS}.{name} must be an object, "
            f"got {type(raw).__name__}"
        )
    try:
        return EnvironmentConfig.model_validate({"name": name, **raw})
    except ValidationError as exc:
        problems = "; ".join(
            f"{CONTEXT_ENVIRONMENTS}.{name}.{_field_path(error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(
            f"invalid configuration in cdk.json context: {problems}. "
            "Fix the value in cdk.json (or override it with -c) and synthesize again."
        ) from None


def load_config(context: Mapping[str, Any]) -> EnvironmentConfig:
    """Pick the environment named by `opayo-fba:environment` and validate it."""
    name = context.get(CONTEXT_ENVIRONMENT)
    environments = context.get(CONTEXT_ENVIRONMENTS)
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigurationError(
            f"cdk.json context has no {CONTEXT_ENVIRONMENTS} object; add one block per "
            "environment (see docs/deploy.md)"
        )
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"no environment chosen: set {CONTEXT_ENVIRONMENT} in cdk.json or pass "
            f"-c {CONTEXT_ENVIRONMENT}=<one of {sorted(environments)}>"
        )
    if name not in environments:
        raise ConfigurationError(
            f"environment {name!r} is not defined under {CONTEXT_ENVIRONMENTS} in cdk.json; "
            f"choose one of {sorted(environments)}"
        )
    return parse_environment(name, environments[name])
