"""The queue consumers' settings (functions/amazon_notifications.py, payment_events.py).

Each is `Settings` with what that function needs made required (opayo_fba.settings); a
handler imports only its own group, so its cold start defines a handful of models, not all.
"""

from __future__ import annotations

from opayo_fba.settings import NonEmpty, SecretArns, SellerMarketplaces, Settings


class AmazonNotificationsSettings(Settings):
    orders_table: NonEmpty[str]
    idempotency_table: NonEmpty[str]
    connector_state_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]
    seller_marketplaces: NonEmpty[SellerMarketplaces]


class PaymentEventsSettings(Settings):
    orders_table: NonEmpty[str]
    idempotency_table: NonEmpty[str]
    state_machine_arn: NonEmpty[str]
