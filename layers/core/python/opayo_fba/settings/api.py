"""The HTTP functions' settings (functions/opayo_webhook.py, functions/order_*.py).

Each is `Settings` with what that function needs made required (opayo_fba.settings); a
handler imports only its own group, so its cold start defines a handful of models, not all.
"""

from __future__ import annotations

from opayo_fba.settings import Names, NonEmpty, SecretArns, SellerMarketplaces, Settings


class OpayoWebhookSettings(Settings):
    orders_table: NonEmpty[str]
    payment_events_queue_url: NonEmpty[str]
    opayo_vendors: NonEmpty[Names]
    opayo_redirect_url: NonEmpty[str]
    security_keys_key_arn: NonEmpty[str]


class OrderIntakeSettings(Settings):
    orders_table: NonEmpty[str]
    state_machine_arn: NonEmpty[str]
    vendor_secret_arns: NonEmpty[SecretArns]
    seller_marketplaces: NonEmpty[SellerMarketplaces]
    security_keys_key_arn: NonEmpty[str]


class OrderStatusSettings(Settings):
    orders_table: NonEmpty[str]


class OrderCancelSettings(Settings):
    orders_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]


class OrderChallengeSettings(Settings):
    orders_table: NonEmpty[str]
    state_machine_arn: NonEmpty[str]
    vendor_secret_arns: NonEmpty[SecretArns]


class OrderRefundSettings(Settings):
    orders_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    vendor_secret_arns: NonEmpty[SecretArns]
    security_keys_key_arn: NonEmpty[str]


class OrderReturnSettings(Settings):
    orders_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]


class OrderResubmitSettings(Settings):
    orders_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    state_machine_arn: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]
    vendor_secret_arns: NonEmpty[SecretArns]
