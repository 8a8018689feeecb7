"""The EventBridge bus that carries canonical events (OrderShipped, ...) to the merchant's ERP."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constants import SERVICE_NAME


class EventsBus(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        data_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "CanonicalEventsBus",
            event_bus_name=f"{SERVICE_NAME}-{config.name}-canonical",
            description="Canonical order, payment and fulfillment events for the merchant's ERP",
            kms_key=data_key,
        )
