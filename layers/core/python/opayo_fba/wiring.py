"""The composition root: the objects a handler needs, built from its settings (settings/).

Each handler loads its own settings model at import, so a missing variable fails the cold
start with its name, not the thousandth event; what is built here is built on first use.
Connectors are built lazily and cached per seller account and per vendor, and rebuilt when
their secret's value changes (a rotation, picked up within the secrets cache's max age).

Endpoints: production URLs are the defaults. A secret may override them (`endpoint` and
`lwa_url` for a seller account, `base_url` for an Opayo vendor); the local runtime does that to
point the very same code at the sandboxes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from opayo_fba.errors import ConfigurationError
from opayo_fba.settings import Settings

if TYPE_CHECKING:
    from opayo_fba.amazon.connector import SpApiConnector
    from opayo_fba.convert.sku import SkuMapping
    from opayo_fba.intake.amazon_inventory import InventoryNotificationDependencies
    from opayo_fba.intake.orders import IntakeDependencies, KnownAccounts
    from opayo_fba.intake.three_d_secure import ChallengeDependencies
    from opayo_fba.jobs.archive import ReportArchive
    from opayo_fba.mapping.fulfillment import MappedOrder
    from opayo_fba.opayo.pi import PiClient
    from opayo_fba.opayo.reporting import ReportingClient
    from opayo_fba.opayo.shared_protocol import SharedProtocolClient
    from opayo_fba.routing import RoutingRules
    from opayo_fba.saga.ports import PaymentPort
    from opayo_fba.saga.starter import SagaResumer, SagaStarter
    from opayo_fba.saga.steps import SagaDependencies
    from opayo_fba.store.amazon_orders import AmazonOrderStore
    from opayo_fba.store.events import EventBridgePublisher
    from opayo_fba.store.inventory import InventoryStore
    from opayo_fba.store.order_export import OrderExportStore
    from opayo_fba.store.orders import OrderRecord, OrderStore
    from opayo_fba.store.payment_queue import SqsPaymentEventQueue
    from opayo_fba.store.pending_payments import PendingPaymentsStore
    from opayo_fba.store.report_requests import ReportLedger
    from opayo_fba.store.sealed import KmsSealer
    from opayo_fba.store.secrets import SecretJsonReader
    from opayo_fba.store.watermarks import WatermarkStore

OPAYO_LIVE = "https://live.opayo.eu.elavon.com"
SP_API_ENDPOINTS = {
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "na": "https://sellingpartnerapi-na.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}


class _SellerEndpoints(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    endpoint: str | None = None
    lwa_url: str | None = None
    region: str = "eu"


class _VendorEndpoint(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    base_url: str | None = None


class Wiring:
    """Builds and caches what handlers need from `Settings`."""

    def __init__(
        self, config: Settings, *, time_budget: Callable[[], float] = lambda: 10.0
    ) -> None:
        self.config = config
        self.time_budget = time_budget
        # Each connector with the fingerprint of the secret it was built from.
        self._amazon: dict[str, tuple[str, SpApiConnector]] = {}
        self._pi: dict[str, tuple[str, PiClient]] = {}
        self._shared: dict[str, tuple[str, SharedProtocolClient]] = {}
        self._chart: Path | None = None
        self._sku_mappings: dict[str, SkuMapping | None] = {}

    @cached_property
    def secrets(self) -> SecretJsonReader:
        from opayo_fba.store.secrets import SecretJsonReader

        return SecretJsonReader()

    @cached_property
    def store(self) -> OrderStore:
        from opayo_fba.store.orders import OrderStore

        self.config.require("orders_table")
        return OrderStore.from_table_name(str(self.config.orders_table))

    def _secret_arn(self, kind: str, arns: dict[str, str], name: str) -> str:
        try:
            return arns[name]
        except KeyError:
            known = ", ".join(sorted(arns)) or "none configured"
            raise ConfigurationError(f"no {kind} {name!r} (configured: {known})") from None

    def _current(self, cache: dict[str, tuple[str, Any]], key: str, arn: str) -> Any:
        """The cached connector for `key` if its secret is unchanged since it was built;
        None when it must be (re)built. A stale one is closed if it can be."""
        cached = cache.get(key)
        if cached is None:
            return None
        if cached[0] == self.secrets.fingerprint(arn):
            return cached[1]
        del cache[key]
        close = getattr(cached[1], "close", None)
        if callable(close):
            close()
        return None

    def amazon(self, account: str) -> SpApiConnector:
        arn = self._secret_arn("seller account", self.config.seller_secret_arns, account)
        current: SpApiConnector | None = self._current(self._amazon, account, arn)
        if current is None:
            from opayo_fba.amazon.connector import SpApiConnector, SpApiEndpoints
            from opayo_fba.amazon.credentials import SellerCredentials
            from opayo_fba.amazon.rate_limit import SellerRateLimiter
            from opayo_fba.store.rate_limits import TokenBucketTable

            self.config.require("connector_state_table")
            fingerprint = self.secrets.fingerprint(arn)
            credentials = self.secrets.read(arn, SellerCredentials)
            where = self.secrets.read(arn, _SellerEndpoints)
            endpoints = SpApiEndpoints(
                endpoint=where.endpoint
                or SP_API_ENDPOINTS.get(where.region, SP_API_ENDPOINTS["eu"]),
                **({"lwa_url": where.lwa_url} if where.lwa_url else {}),
            )
            limiter = SellerRateLimiter(
                TokenBucketTable(str(self.config.connector_state_table)), credentials.seller_id
            )
            current = SpApiConnector(
                credentials, limiter=limiter, endpoints=endpoints, time_budget=self.time_budget
            )
            self._amazon[account] = (fingerprint, current)
        return current

    def reporting(self, vendor: str) -> ReportingClient:
        """The vendor's Reporting & Admin API client (the one its Pi client consults)."""
        return self.pi(vendor).reporting

    def pi(self, vendor: str) -> PiClient:
        arn = self._secret_arn("Opayo vendor", self.config.vendor_secret_arns, vendor)
        current: PiClient | None = self._current(self._pi, vendor, arn)
        if current is None:
            from opayo_fba.opayo.credentials import VendorCredentials
            from opayo_fba.opayo.pi import PiClient
            from opayo_fba.opayo.reporting import ReportingClient

            fingerprint = self.secrets.fingerprint(arn)
            credentials = self.secrets.read(arn, VendorCredentials)
            base = (self.secrets.read(arn, _VendorEndpoint).base_url or OPAYO_LIVE).rstrip("/")
            reporting = ReportingClient(credentials, url=f"{base}/access/access.htm")
            current = PiClient(credentials, reporting=reporting, base_url=f"{base}/api/v1")
            self._pi[vendor] = (fingerprint, current)
        return current

    def shared_protocol(self, vendor: str) -> SharedProtocolClient:
        """The vendor's Server & Direct Shared Protocol client (same secret and host as Pi)."""
        arn = self._secret_arn("Opayo vendor", self.config.vendor_secret_arns, vendor)
        current: SharedProtocolClient | None = self._current(self._shared, vendor, arn)
        if current is None:
            from opayo_fba.opayo.credentials import VendorCredentials
            from opayo_fba.opayo.shared_protocol import SharedProtocolClient

            fingerprint = self.secrets.fingerprint(arn)
            credentials = self.secrets.read(arn, VendorCredentials)
            base = (self.secrets.read(arn, _VendorEndpoint).base_url or OPAYO_LIVE).rstrip("/")
            current = SharedProtocolClient(
                credentials, reporting=self.reporting(vendor), base_url=f"{base}/gateway/service"
            )
            self._shared[vendor] = (fingerprint, current)
        return current

    def payments(self, record: OrderRecord) -> PaymentPort:
        """How the saga reaches this order's payment: Pi for a Pi payment; for a payment
        registered through Opayo Server, the Shared Protocol with the order's SecurityKey,
        opened (KMS, bound to the order id) only when a post needs it."""
        if not record.vendor:
            raise ConfigurationError(f"order {record.order_id} names no Opayo vendor")
        payment = record.payment
        if payment is None or payment.provider != "server":
            return self.pi(record.vendor)
        from opayo_fba.opayo.server_payment import ServerPayment

        sealed, order_id = record.server_security_key_sealed, record.order_id
        if not sealed:
            raise ConfigurationError(f"Server order {order_id} has no SecurityKey stored")
        return ServerPayment(
            self.shared_protocol(record.vendor),
            vendor_tx_code=payment.vendor_tx_code,
            vps_tx_id=payment.transaction_id or "",
            tx_auth_no=payment.tx_auth_no or "",
            open_security_key=lambda: self.sealer.unseal(sealed, order_id),
        )

    @cached_property
    def events(self) -> EventBridgePublisher:
        from opayo_fba.store.events import EventBridgePublisher

        self.config.require("event_bus_name")
        return EventBridgePublisher(str(self.config.event_bus_name))

    @cached_property
    def starter(self) -> SagaStarter:
        from opayo_fba.saga.starter import SagaStarter

        self.config.require("state_machine_arn")
        return SagaStarter(str(self.config.state_machine_arn))

    @cached_property
    def sealer(self) -> KmsSealer:
        from opayo_fba.store.sealed import KmsSealer

        self.config.require("security_keys_key_arn")
        return KmsSealer(str(self.config.security_keys_key_arn))

    @cached_property
    def resumer(self) -> SagaResumer:
        from opayo_fba.saga.starter import SagaResumer

        return SagaResumer()

    @cached_property
    def payment_queue(self) -> SqsPaymentEventQueue:
        from opayo_fba.store.payment_queue import SqsPaymentEventQueue

        self.config.require("payment_events_queue_url")
        return SqsPaymentEventQueue(str(self.config.payment_events_queue_url))

    def chart_of_accounts(self) -> Path | None:
        """The configured chart of accounts as a local file (fetched once from S3)."""
        reference = self.config.reconcile_config
        if not reference:
            return None
        if self._chart is None:
            from opayo_fba.store.objects import local_file

            self._chart = local_file(reference, suffix=".yaml")
        return self._chart

    def sku_mapping(self, account: str) -> SkuMapping | None:
        """The seller account's SKU mapping (read once), or None when none is configured:
        then Amazon's seller SKUs are the shop's SKUs."""
        if account not in self._sku_mappings:
            from opayo_fba.convert.sku import SkuMapping
            from opayo_fba.store.objects import read_text

            reference = self.config.sku_mappings.get(account)
            self._sku_mappings[account] = (
                SkuMapping.from_csv(read_text(reference)) if reference else None
            )
        return self._sku_mappings[account]

    @cached_property
    def inventory(self) -> InventoryStore:
        from opayo_fba.store.inventory import InventoryStore

        self.config.require("connector_state_table")
        return InventoryStore.from_table_name(str(self.config.connector_state_table))

    @cached_property
    def watermarks(self) -> WatermarkStore:
        from opayo_fba.store.watermarks import WatermarkStore

        self.config.require("connector_state_table")
        return WatermarkStore.from_table_name(str(self.config.connector_state_table))

    @cached_property
    def report_ledger(self) -> ReportLedger:
        from opayo_fba.store.report_requests import ReportLedger

        self.config.require("connector_state_table")
        return ReportLedger.from_table_name(str(self.config.connector_state_table))

    @cached_property
    def report_archive(self) -> ReportArchive:
        from opayo_fba.jobs.archive import ReportArchive

        self.config.require("reports_bucket")
        return ReportArchive.from_bucket_name(str(self.config.reports_bucket))

    @cached_property
    def amazon_orders(self) -> AmazonOrderStore:
        from opayo_fba.store.amazon_orders import AmazonOrderStore

        self.config.require("orders_table")
        return AmazonOrderStore.from_table_name(str(self.config.orders_table))

    @cached_property
    def pending_payments(self) -> PendingPaymentsStore:
        from opayo_fba.store.pending_payments import PendingPaymentsStore

        self.config.require("orders_table")
        return PendingPaymentsStore.from_table_name(str(self.config.orders_table))

    @cached_property
    def order_export(self) -> OrderExportStore:
        from opayo_fba.store.order_export import OrderExportStore

        self.config.require("orders_table")
        return OrderExportStore.from_table_name(str(self.config.orders_table))

    def inventory_notifications(self) -> InventoryNotificationDependencies:
        """What FBA_INVENTORY_AVAILABILITY_CHANGES needs: levels, the bus, accounts, SKUs."""
        from opayo_fba.intake.amazon_inventory import InventoryNotificationDependencies

        return InventoryNotificationDependencies(
            inventory=self.inventory,
            events=self.events,
            marketplaces=self.known_accounts().marketplaces,
            skus=self.sku_mapping,
        )

    @cached_property
    def templates(self) -> list[Any]:
        from opayo_fba.mapping import load_configured_templates

        if not self.config.mapping_templates:
            return []
        return list(load_configured_templates(self.config.mapping_templates))

    @cached_property
    def product_master(self) -> Any:
        if not self.config.product_master_csv:
            return None
        from opayo_fba.mapping import CsvProductMaster

        return CsvProductMaster(self.config.product_master_csv)

    def opayo_fields(self, source: dict[str, Any]) -> dict[str, Any]:
        """The Opayo transaction fields the merchant's templates produce for an order."""
        if not self.templates:
            return {}
        from opayo_fba.mapping import apply_templates

        return dict(apply_templates(self.templates, source).opayo)

    def map_order(self, record: OrderRecord) -> MappedOrder:
        """The order's createFulfillmentOrder body, the merchant's templates applied."""
        from opayo_fba.mapping.fulfillment import map_order

        return map_order(
            record.order,
            record.source,
            fulfillment_policy=self.config.fulfillment_policy,
            templates=self.templates,
            product_master=self.product_master,
        )

    def saga(self) -> SagaDependencies:
        from opayo_fba.saga.steps import SagaDependencies

        return SagaDependencies(
            store=self.store,
            fulfillment=self.amazon,
            payments=self.payments,
            events=self.events,
            map_order=self.map_order,
            resumer=self.resumer,
            unfulfillable_authorisations=self.config.unfulfillable_authorisations,
        )

    def routing(self) -> RoutingRules:
        """The routing rules, validated at cold start (a bad rule fails the function's init)."""
        from opayo_fba.routing import RoutingRules

        return RoutingRules.from_json(self.config.routing_rules)

    def known_accounts(self) -> KnownAccounts:
        """The vendors and seller accounts (with marketplaces) this deployment serves."""
        from opayo_fba.intake.orders import KnownAccounts

        return KnownAccounts(
            vendors=frozenset(self.config.vendor_secret_arns),
            marketplaces={
                seller: frozenset(ids) for seller, ids in self.config.seller_marketplaces.items()
            },
        )

    def challenges(self) -> ChallengeDependencies:
        from opayo_fba.intake.three_d_secure import ChallengeDependencies

        return ChallengeDependencies(store=self.store, payments=self.pi, starter=self.starter)

    def intake(self) -> IntakeDependencies:
        from opayo_fba.intake.orders import IntakeDependencies
        from opayo_fba.opayo.pi import CardPayment

        return IntakeDependencies(
            store=self.store,
            payments=self.pi,
            starter=self.starter,
            card_payment=CardPayment,
            seal=self.sealer.seal,
            opayo_fields=self.opayo_fields,
            accounts=self.known_accounts(),
            routing=self.routing(),
        )
