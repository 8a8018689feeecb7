"""The canonical events: one model per detail-type (opayo_fba.model.events), its JSON Schema in
docs/events/ and in the stack's EventBridge schema registry, all the same; a detail that breaks
its model is refused before it reaches the bus.

A sample of every event, as its publisher builds it, passes both the model and the published
schema (Draft 4, as the registry reads it); the e2e tests check every event the ERP receives
against the same files (tests/fixtures/bus.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator

from opayo_fba.model.events import (
    EVENTS,
    EventContractError,
    canonical_detail,
    json_schema,
    write_schemas,
)
from tests.fixtures.bus import EVENT_SCHEMAS

MONEY = {"amount": 2598, "currency": "GBP"}
PACKAGE = {
    "packageNumber": 1,
    "trackingNumber": "RM123456789GB",
    "carrierCode": "Royal Mail",
    "customerTrackingLink": None,
    "status": "DELIVERED",
    "statusDescription": None,
    "estimatedArrivalAt": "2026-12-03T18:00:00+00:00",
    "lastEventAt": "2026-12-03T11:00:00+00:00",
}
REFUND = {
    "eventId": "W-1#RFD-W-1-1",
    "orderId": "W-1",
    "vendorTxCode": "RFD-W-1-1",
    "refundId": "r-1",
    "kind": "merchant",
    "reason": "damaged",
    "lines": [{"line_id": "W-1-1", "quantity": 1}],
    **MONEY,
}
SAMPLES: dict[str, dict[str, Any]] = {
    "OrderStatusChanged": {
        "eventId": "W-1#4",
        "orderId": "W-1",
        "channel": "web",
        "sellerAccount": "uk-main",
        "status": "shipped",
        "previousStatus": "payment_captured",
        "sourceStatus": None,
        "updatedAt": "2026-12-02T10:00:00+00:00",
    },
    "OrderShipped": {
        "orderId": "W-1",
        "outcome": "shipped",
        "executionId": "arn:aws:states:eu-west-2:111111111111:execution:saga:W-1",
        "shipments": [{"amazonShipmentId": "D1", "packages": []}],
        "trackingNumbers": ["RM123456789GB"],
    },
    "OrderCompensated": {"orderId": "W-1", "outcome": "payment_declined", "executionId": "x"},
    "PaymentCaptured": {"orderId": "W-1", "vendorTxCode": "PAY-W-1", **MONEY},
    "RefundIssued": REFUND,
    "RefundFailed": {**REFUND, "statusDetail": "declined by the bank"},
    "UnitsNotShipped": {
        "eventId": "W-1#UnitsNotShipped",
        "orderId": "W-1",
        "fulfillmentStatus": "CompletePartialled",
        "lines": [{"lineId": "W-1-1", "quantity": 1}],
        "refund": MONEY,
    },
    "CancellationRefused": {
        "eventId": "W-1#CancellationRefused",
        "orderId": "W-1",
        "fulfillmentStatus": "Processing",
        "reason": "already picked",
    },
    "OrderResubmitted": {
        "eventId": "W-1#OrderResubmitted#2",
        "orderId": "W-1",
        "attempt": 2,
        "resubmitId": "resub-1",
        "sellerFulfillmentOrderId": "W-1-A2",
        "payment": "repeat",
        "repeatVendorTxCode": "RPT-W-1-A2",
    },
    "ShipmentUpdated": {"eventId": "W-1#package#1#DELIVERED", "orderId": "W-1", **PACKAGE},
    "DeliveryFailed": {"eventId": "W-1#DeliveryFailed#1", "orderId": "W-1", **PACKAGE},
    "OrderDelivered": {
        "eventId": "W-1#OrderDelivered",
        "orderId": "W-1",
        "deliveredAt": "2026-12-03T11:00:00+00:00",
        "packages": [PACKAGE],
    },
    "ReturnAuthorized": {
        "eventId": "W-1#ReturnAuthorized#R1",
        "orderId": "W-1",
        "returnId": "R1",
        "lines": [{"lineId": "W-1-1", "quantity": 1}],
        "authorizations": [{"returnAuthorizationId": "RA1", "amazonRmaId": "RMA1"}],
    },
    "ReturnReceived": {
        "eventId": "W-1#ReturnReceived#R1",
        "orderId": "W-1",
        "returnId": "R1",
        "conditions": ["Sellable"],
        "refund": MONEY,
        "refundStatus": "succeeded",
    },
    "InventoryLevelChanged": {
        "eventId": "uk-main#OPF-MUG-BLUE#2026-12-02T06:00:00+00:00",
        "sellerAccount": "uk-main",
        "sku": "MUG-BLUE",
        "sellerSku": "OPF-MUG-BLUE",
        "asin": "B0SANDBX01",
        "productName": "Mug",
        "fulfillable": 98,
        "unsellable": 0,
        "reserved": 0,
        "total": 98,
        "previousFulfillable": 100,
        "asOf": "2026-12-02T06:00:00+00:00",
        "reportId": None,
        "source": "inventory-summaries",
    },
    "JournalEntriesReady": {
        "runId": "run-1",
        "generatedAt": "2026-12-02T07:00:00+00:00",
        "settlementIds": ["S1"],
        "batchIds": ["B1"],
        "entryCount": 3,
        "balanced": True,
        "tiesOut": True,
        "debitsMinorByCurrency": {"GBP": 2598},
        "matchedOrders": 1,
        "exceptionCount": 0,
        "exceptionsByReason": {},
        "outputs": {"journal.csv": "s3://bucket/journal.csv"},
    },
}


def test_every_event_has_a_sample_here() -> None:
    assert set(SAMPLES) == set(EVENTS)


@pytest.mark.parametrize("detail_type", sorted(EVENTS))
def test_a_publishers_detail_passes_the_model_and_the_published_schema(detail_type: str) -> None:
    on_the_bus = canonical_detail(detail_type, SAMPLES[detail_type])
    assert on_the_bus["version"] == "1"
    published = json.loads((EVENT_SCHEMAS / f"{detail_type}.json").read_text(encoding="utf-8"))
    Draft4Validator.check_schema(published)
    assert list(Draft4Validator(published).iter_errors(on_the_bus)) == []


@pytest.mark.parametrize("detail_type", sorted(EVENTS))
def test_an_unknown_or_missing_field_is_refused_by_both(detail_type: str) -> None:
    validator = Draft4Validator(json_schema(detail_type))
    extra = {**SAMPLES[detail_type], "customerEmail": "jane@example.com"}
    with pytest.raises(EventContractError, match="customerEmail"):
        canonical_detail(detail_type, extra)
    assert not validator.is_valid({**canonical_detail(detail_type, SAMPLES[detail_type]), **extra})
    first_required = next(
        name for name in json_schema(detail_type)["required"] if name != "version"
    )
    missing = {k: v for k, v in SAMPLES[detail_type].items() if k != first_required}
    with pytest.raises(EventContractError, match=first_required):
        canonical_detail(detail_type, missing)


def test_the_saga_s_old_status_payload_is_refused() -> None:
    """The shape the saga used to send ({orderId, from, to}) is not OrderStatusChanged."""
    with pytest.raises(EventContractError, match="from"):
        canonical_detail("OrderStatusChanged", {"orderId": "W-1", "from": "a", "to": "b"})


def test_an_event_we_do_not_define_is_refused() -> None:
    with pytest.raises(EventContractError, match="not a canonical event"):
        canonical_detail("OrderTeleported", {})


def test_docs_events_are_the_models_schemas(tmp_path: Path) -> None:
    fresh = {p.name: p.read_text(encoding="utf-8") for p in write_schemas(tmp_path)}
    published = {p.name: p.read_text(encoding="utf-8") for p in EVENT_SCHEMAS.glob("*.json")}
    regenerate = ".venv/bin/python -m opayo_fba.model.events --write docs/events"
    assert published == fresh, f"docs/events/ is stale: run `{regenerate}`"


def test_the_stack_registers_every_schema(template_path: Path) -> None:
    resources = json.loads(template_path.read_text())["Resources"]
    registries = [r for r in resources.values() if r["Type"] == "AWS::EventSchemas::Registry"]
    assert len(registries) == 1
    schemas = {
        r["Properties"]["SchemaName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::EventSchemas::Schema"
    }
    assert set(schemas) == {f"opayo-fba@{t}" for t in EVENTS}
    for detail_type in EVENTS:
        registered = schemas[f"opayo-fba@{detail_type}"]
        assert registered["Type"] == "JSONSchemaDraft4"
        assert json.loads(registered["Content"]) == json_schema(detail_type)
