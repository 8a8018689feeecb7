"""The saga steps' settings (functions/saga_*.py): every step reads and writes the order.

Each is `Settings` with what that function needs made required (opayo_fba.settings); a
handler imports only its own group, so its cold start defines a handful of models, not all.
"""

from __future__ import annotations

from opayo_fba.settings import (
    FulfillmentPolicy,
    NonEmpty,
    SecretArns,
    Settings,
    UnfulfillableAuthorisations,
)


class SagaStepSettings(Settings):
    """Every saga step reads and writes the order and publishes what changed."""

    orders_table: NonEmpty[str]
    event_bus_name: NonEmpty[str]


class AmazonStepSettings(SagaStepSettings):
    connector_state_table: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]


class ValidateAndMapSettings(SagaStepSettings):
    vendor_secret_arns: NonEmpty[SecretArns]
    fulfillment_policy: FulfillmentPolicy


class PaymentStepSettings(SagaStepSettings):
    """A step that posts to Opayo, a Server payment with its sealed SecurityKey."""

    vendor_secret_arns: NonEmpty[SecretArns]
    security_keys_key_arn: NonEmpty[str]


class AbortPaymentSettings(PaymentStepSettings):
    unfulfillable_authorisations: UnfulfillableAuthorisations


class SagaRecoverySettings(SagaStepSettings):
    connector_state_table: NonEmpty[str]
    seller_secret_arns: NonEmpty[SecretArns]
    vendor_secret_arns: NonEmpty[SecretArns]
    security_keys_key_arn: NonEmpty[str]
