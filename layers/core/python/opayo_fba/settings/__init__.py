"""Each function's configuration: one typed settings model per handler, read at cold start.

`Settings` is everything the composition root (wiring.py) can be given, every field optional.
A handler's model is `Settings` with what that function needs made required, so its cold start
(`load_settings(Model)` at import) fails with the variable's name when the stack did not set it
or set it wrong, not on the first event. The handlers' models live by kind of function
(`api`, `consumers`, `saga`, `jobs`), so a cold start defines the few of its kind, not all
thirty (a pydantic model costs a third of a millisecond to define, built or not);
`catalogue.HANDLER_SETTINGS` says which model each handler loads, and tests/infra holds it to
the variables the synthesized template gives each function.

Field types are defined once below (the JSON maps' parsing, non-empty names), and each field's
environment variable once in `VARIABLES`.

The models are plain pydantic models validated from `os.environ`, as the Powertools cookbook's
env modeler (aws-lambda-env-modeler) does, not pydantic-settings' BaseSettings: importing
pydantic-settings costs every cold start about 30 ms (it imports asyncio, dotenv and its CLI
sources), which is a fifth of `import boto3` (bench/import_time.py), for sources we never read.
`Settings(NAME=value)` still builds one from explicit variables (tests, the CLI).
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasGenerator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from opayo_fba.errors import ConfigurationError

# Each field's environment variable (infra/constants.py's ENV_* names).
VARIABLES = {
    "environment": "OPAYO_FBA_ENVIRONMENT",
    "orders_table": "ORDERS_TABLE_NAME",
    "idempotency_table": "IDEMPOTENCY_TABLE_NAME",
    "connector_state_table": "CONNECTOR_STATE_TABLE_NAME",
    "reports_bucket": "REPORTS_BUCKET_NAME",
    "payment_events_queue_url": "PAYMENT_EVENTS_QUEUE_URL",
    "event_bus_name": "EVENT_BUS_NAME",
    "state_machine_arn": "SAGA_STATE_MACHINE_ARN",
    "seller_secret_arns": "SELLER_SECRET_ARNS",
    "vendor_secret_arns": "VENDOR_SECRET_ARNS",
    "seller_marketplaces": "SELLER_MARKETPLACES",
    "opayo_vendors": "OPAYO_VENDORS",
    "routing_rules": "ROUTING_RULES",
    "opayo_redirect_url": "OPAYO_REDIRECT_URL",
    "mapping_templates": "MAPPING_TEMPLATES",
    "return_deductions": "RETURN_DEDUCTIONS",
    "unfulfillable_authorisations": "UNFULFILLABLE_AUTHORISATIONS",
    "fulfillment_policy": "FULFILLMENT_POLICY",
    "product_master_csv": "PRODUCT_MASTER_CSV",
    "sku_mappings": "SKU_MAPPINGS",
    "security_keys_key_arn": "SECURITY_KEYS_KEY_ARN",
    "reconcile_config": "RECONCILE_CONFIG",
}

T = TypeVar("T")

#: A required value that may not be empty: a name, an ARN, a map with at least one entry.
NonEmpty = Annotated[T, Field(min_length=1)]


def _json_object(what: str) -> BeforeValidator:
    """A variable holding a JSON object (the stack writes them with json.dumps)."""

    def parse(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value else {}
            except json.JSONDecodeError as error:
                raise ValueError(f"must be a JSON object of {what}: {error}") from None
        return value

    return BeforeValidator(parse)


def _comma_separated(value: Any) -> Any:
    if isinstance(value, str):
        return frozenset(part for part in value.split(",") if part)
    return value


# The variable's text reaches the validator, which names what the JSON should be.
SecretArns = Annotated[dict[str, str], _json_object("name -> secret ARN")]
SellerMarketplaces = Annotated[
    dict[str, list[str]], _json_object("seller account -> marketplace ids")
]
SkuMappings = Annotated[dict[str, str], _json_object("seller account -> SKU mapping CSV")]
ReturnDeductions = Annotated[dict[str, int], _json_object("condition -> percent")]
Names = Annotated[frozenset[str], BeforeValidator(_comma_separated)]
UnfulfillableAuthorisations = Literal["abort", "hold"]
FulfillmentPolicy = Literal["FillOrKill", "FillAllAvailable"]


class Settings(BaseModel):
    """Everything the composition root may be given; a handler's model requires its part."""

    # defer_build: of the thirty models here, a cold start builds only the one it loads.
    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        alias_generator=AliasGenerator(validation_alias=VARIABLES.__getitem__),
        defer_build=True,
    )

    environment: str = "local"
    orders_table: str | None = None
    idempotency_table: str | None = None
    connector_state_table: str | None = None
    reports_bucket: str | None = None
    payment_events_queue_url: str | None = None
    event_bus_name: str | None = None
    state_machine_arn: str | None = None
    seller_secret_arns: SecretArns = Field(default_factory=dict)
    vendor_secret_arns: SecretArns = Field(default_factory=dict)
    # Marketplace ids by seller account, from the deployment's configuration (names, never
    # secrets): order intake refuses any other seller account or marketplace.
    seller_marketplaces: SellerMarketplaces = Field(default_factory=dict)
    # The vendors whose notifications the webhook accepts (comma-separated; empty: any).
    opayo_vendors: Names = frozenset()
    # The merchant's routing rules (cdk.json `routing`, JSON): which seller account,
    # marketplace and vendor an order goes to when it does not name them.
    routing_rules: str | None = None
    opayo_redirect_url: str = "https://example.com/checkout/complete"
    # Comma-separated template references: a file, `starter:NAME` or `s3://bucket/key?versionId=`.
    mapping_templates: str = ""
    # What the merchant keeps of a returned unit's value, in percent, by the condition Amazon
    # received it in (cdk.json `returnDeductions`, e.g. {"CustomerDamaged": 20}).
    return_deductions: ReturnDeductions = Field(default_factory=dict)
    unfulfillable_authorisations: UnfulfillableAuthorisations = "abort"
    # Amazon's fulfillmentPolicy for every fulfillment order (cdk.json `fulfillmentPolicy`).
    fulfillment_policy: FulfillmentPolicy = "FillOrKill"
    product_master_csv: str | None = None
    # The merchant's SKU mapping per seller account (JSON {account: reference}), a CSV with
    # internal_sku,seller_sku[,asin]: `s3://bucket/key` in AWS, a file path locally.
    sku_mappings: SkuMappings = Field(default_factory=dict)
    # The KMS key that seals Opayo Server SecurityKeys (store/sealed.py).
    security_keys_key_arn: str | None = None
    # The chart of accounts the journal step posts with (reconcile/config.py's format):
    # `s3://bucket/key` in AWS, a file path locally.
    reconcile_config: str | None = None

    def require(self, *fields: str) -> Settings:
        """Fail loudly, naming the environment variables, if any of `fields` is unset (for a
        composition root given the plain `Settings`; a handler's model already requires its
        part)."""
        missing = [VARIABLES[name] for name in fields if not getattr(self, name)]
        if missing:
            raise ConfigurationError(
                f"missing configuration: set {', '.join(missing)} (the CDK app sets them; "
                "locally `opayo-fba local up` does)"
            )
        return self


SettingsT = TypeVar("SettingsT", bound=Settings)


class _Loaded:
    settings: Settings | None = None


_loaded = _Loaded()


def read_settings(model: type[SettingsT]) -> SettingsT:
    """`model` read from the environment now; ConfigurationError names each variable that is
    missing or malformed (never its value)."""
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as error:
        problems = []
        for found in error.errors(include_url=False, include_input=False):
            variable = ".".join(str(part) for part in found["loc"])
            missing = found["type"] == "missing"
            problems.append(f"{variable} is not set" if missing else f"{variable}: {found['msg']}")
        raise ConfigurationError(
            f"{model.__name__}: {'; '.join(problems)} (the CDK app sets these variables; "
            "locally `opayo-fba local up` does)"
        ) from None


def load_settings(model: type[SettingsT]) -> SettingsT:
    """A handler's settings, read and validated at its cold start; the composition root of
    this execution environment is built from them (`settings()`)."""
    loaded = read_settings(model)
    _loaded.settings = loaded
    return loaded


def settings() -> Settings:
    """The settings this execution environment loaded, or the plain `Settings` when no
    handler loaded its own (the CLI, a test)."""
    if _loaded.settings is None:
        _loaded.settings = read_settings(Settings)
    return _loaded.settings


def forget_settings() -> None:
    """Read the environment again on next use (tests: each import is a new cold start)."""
    _loaded.settings = None


def required_variables(model: type[Settings]) -> frozenset[str]:
    """The environment variables without which `model` does not load."""
    return frozenset(
        VARIABLES[name] for name, field in model.model_fields.items() if field.is_required()
    )
