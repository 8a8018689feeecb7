"""The scheduled jobs' settings (the pollers, the report jobs, the checks, the tracker).

Each is `Settings` with what that function needs made required (opayo_fba.settings); a
handler imports only its own group, so its cold start defines a handful of models, not all.
"""

from __future__ import annotations

from opayo_fba.settings import NonEmpty, ReturnDeductions, SecretArns, Settings


class OrdersPollerSettings(Settings):
    orders_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]


class InventoryPollerSettings(Settings):
    connector_state_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]


class PiStatusPollerSettings(Settings):
    orders_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    state_machine_arn: NonEmpty[str]
    vendor_secret_arns: NonEmpty[SecretArns]


class ReportSchedulerSettings(Settings):
    connector_state_table: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]


class ReportPollerSettings(Settings):
    """Polls reports and journals what is ready: the orders (the order book), the archive."""

    orders_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    reports_bucket: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]


class OpayoBatchFetchSettings(Settings):
    """Fetches settlement batches and journals what is ready, like the report poller."""

    orders_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    reports_bucket: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    vendor_secret_arns: NonEmpty[SecretArns]


class HeldAuthorisationsCheckSettings(Settings):
    orders_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    vendor_secret_arns: NonEmpty[SecretArns]
    security_keys_key_arn: NonEmpty[str]


class AfterSaleTrackerSettings(Settings):
    orders_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]
    vendor_secret_arns: NonEmpty[SecretArns]
    return_deductions: ReturnDeductions  # may be {}: the merchant keeps nothing back
    security_keys_key_arn: NonEmpty[str]
