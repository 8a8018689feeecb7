"""The EventBridge bus that carries canonical events (OrderShipped, ...) to the merchant's ERP."""

from __future__ import annotations

import json

from aws_cdk import aws_events as events
from aws_cdk import aws_eventschemas as eventschemas
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constants import SERVICE_NAME
from opayo_fba.model.events import EVENT_SOURCE, EVENTS, json_schema


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
        # The events' JSON Schemas (docs/events/, from opayo_fba.model.events), where the
        # ERP's developers find them: EventBridge's schema registry (code bindings, the
        # console's schema browser).
        self.registry = eventschemas.CfnRegistry(
            self,
            "EventSchemas",
            registry_name=f"{SERVICE_NAME}-{config.name}",
            description="The canonical events on the opayo-fba bus, one schema per detail-type",
        )
        self.schemas = [
            eventschemas.CfnSchema(
                self,
                f"Schema{detail_type}",
                registry_name=self.registry.attr_registry_name,
                schema_name=f"{EVENT_SOURCE}@{detail_type}",
                type="JSONSchemaDraft4",
                content=json.dumps(json_schema(detail_type), sort_keys=True),
                description=(EVENTS[detail_type].__doc__ or detail_type).split("\n\n")[0],
            )
            for detail_type in sorted(EVENTS)
        ]
