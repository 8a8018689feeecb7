"""The merchant's event bus: canonical events published to EventBridge (the saga's EventPort)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class EventBridgePublisher:
    """Canonical events to the merchant's bus (`source` opayo-fba), each checked against its
    model and versioned first (opayo_fba.model.events)."""

    def __init__(self, bus_name: str, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("events")
        self._client = client
        self._bus = bus_name

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        from opayo_fba.model.events import EVENT_SOURCE, canonical_detail

        checked = canonical_detail(detail_type, detail)
        result = self._client.put_events(
            Entries=[
                {
                    "EventBusName": self._bus,
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(checked),
                }
            ]
        )
        if result.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused {detail_type}: {result['Entries']}")
