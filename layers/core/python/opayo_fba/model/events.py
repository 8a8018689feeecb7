"""The canonical events on the bus: one pydantic model per detail-type, the contract the shop
and the ERP rely on.

Every event we publish passes through `canonical_detail` (the EventBridge publisher calls it
before PutEvents; the saga's own PutEvents states build the same shape in the state machine),
so a detail that breaks its model is never sent. Each detail carries `version` (today "1"):
a change that could break a consumer is a new version. The JSON Schemas in `docs/events/`
are generated from these models (`python -m opayo_fba.model.events --write docs/events`) and
the stack publishes them to an EventBridge schema registry; a test keeps all three in step.

Field names are camelCase on the wire (the models' aliases).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

EVENT_SOURCE = "opayo-fba"
EVENT_VERSION: Literal["1"] = "1"


class EventContractError(ValueError):
    """A publisher built a detail its event's model does not allow."""


class _Detail(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
    )
    detail_type: ClassVar[str]
    version: Literal["1"] = EVENT_VERSION


class _Money(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    amount: int = Field(description="Minor units (pence, cents).")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class _Line(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", frozen=True, defer_build=True
    )
    line_id: str
    quantity: int = Field(ge=0)


class _Package(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", frozen=True, defer_build=True
    )
    package_number: int
    tracking_number: str | None = None
    carrier_code: str | None = None
    customer_tracking_link: str | None = None
    status: str
    status_description: str | None = None
    estimated_arrival_at: str | None = None
    last_event_at: str | None = None


class OrderStatusChanged(_Detail):
    """An order's canonical status moved: a web order through the saga, an Amazon order
    read by the orders poller (docs/pollers-and-reports.md)."""

    detail_type: ClassVar[str] = "OrderStatusChanged"
    event_id: str
    order_id: str
    channel: str
    seller_account: str
    status: str
    previous_status: str | None
    source_status: str | None = Field(
        default=None, description="The source system's own status (Amazon's OrderStatus)."
    )
    updated_at: str


class OrderShipped(_Detail):
    """Emitted by the saga's EmitOrderShipped state (infra/saga.py)."""

    detail_type: ClassVar[str] = "OrderShipped"
    order_id: str
    outcome: Literal["shipped"]
    execution_id: str
    shipments: list[dict[str, Any]]
    tracking_numbers: list[str]


class OrderCompensated(_Detail):
    """Emitted by the saga's Emit*Compensated states and by saga recovery."""

    detail_type: ClassVar[str] = "OrderCompensated"
    order_id: str
    outcome: str
    execution_id: str


class PaymentCaptured(_Detail):
    detail_type: ClassVar[str] = "PaymentCaptured"
    order_id: str
    vendor_tx_code: str
    amount: int = Field(description="Minor units.")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class _RefundDetail(_Detail):
    event_id: str
    order_id: str
    vendor_tx_code: str
    refund_id: str
    kind: str
    reason: str | None = None
    lines: list[dict[str, Any]]
    amount: int = Field(description="Minor units.")
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class RefundIssued(_RefundDetail):
    detail_type: ClassVar[str] = "RefundIssued"


class RefundFailed(_RefundDetail):
    detail_type: ClassVar[str] = "RefundFailed"
    status_detail: str | None = None


class UnitsNotShipped(_Detail):
    detail_type: ClassVar[str] = "UnitsNotShipped"
    event_id: str
    order_id: str
    fulfillment_status: str
    lines: list[_Line]
    refund: _Money


class CancellationRefused(_Detail):
    detail_type: ClassVar[str] = "CancellationRefused"
    event_id: str
    order_id: str
    fulfillment_status: str
    reason: str | None = None


class OrderResubmitted(_Detail):
    detail_type: ClassVar[str] = "OrderResubmitted"
    event_id: str
    order_id: str
    attempt: int = Field(ge=2)
    resubmit_id: str
    seller_fulfillment_order_id: str
    payment: Literal["held authorisation", "repeat"]
    repeat_vendor_tx_code: str | None = None


class ShipmentUpdated(_Package, _Detail):
    detail_type: ClassVar[str] = "ShipmentUpdated"
    event_id: str
    order_id: str


class DeliveryFailed(ShipmentUpdated):
    detail_type: ClassVar[str] = "DeliveryFailed"


class OrderDelivered(_Detail):
    detail_type: ClassVar[str] = "OrderDelivered"
    event_id: str
    order_id: str
    delivered_at: str | None
    packages: list[_Package]


class ReturnAuthorized(_Detail):
    detail_type: ClassVar[str] = "ReturnAuthorized"
    event_id: str
    order_id: str
    return_id: str
    lines: list[_Line]
    authorizations: list[dict[str, Any]]


class ReturnReceived(_Detail):
    detail_type: ClassVar[str] = "ReturnReceived"
    event_id: str
    order_id: str
    return_id: str
    conditions: list[str]
    refund: _Money
    refund_status: str


class InventoryLevelChanged(_Detail):
    detail_type: ClassVar[str] = "InventoryLevelChanged"
    event_id: str
    seller_account: str
    sku: str
    seller_sku: str
    asin: str | None = None
    product_name: str | None = None
    fulfillable: int
    unsellable: int
    reserved: int
    total: int
    previous_fulfillable: int | None
    as_of: str
    report_id: str | None = None
    source: Literal["report", "inventory-summaries", "notification"]


class JournalEntriesReady(_Detail):
    """A reconciliation run's journal is ready: counts and totals, never order data."""

    detail_type: ClassVar[str] = "JournalEntriesReady"
    run_id: str
    generated_at: str
    settlement_ids: list[str]
    batch_ids: list[str]
    entry_count: int
    balanced: bool
    ties_out: bool
    debits_minor_by_currency: dict[str, int]
    matched_orders: int
    exception_count: int
    exceptions_by_reason: dict[str, int]
    outputs: dict[str, str]


EVENTS: dict[str, type[_Detail]] = {
    model.detail_type: model
    for model in (
        OrderStatusChanged,
        OrderShipped,
        OrderCompensated,
        PaymentCaptured,
        RefundIssued,
        RefundFailed,
        UnitsNotShipped,
        CancellationRefused,
        OrderResubmitted,
        ShipmentUpdated,
        DeliveryFailed,
        OrderDelivered,
        ReturnAuthorized,
        ReturnReceived,
        InventoryLevelChanged,
        JournalEntriesReady,
    )
}


def canonical_detail(detail_type: str, detail: Any) -> dict[str, Any]:
    """`detail` checked against its event's model, with `version`, as it goes on the bus.

    A detail-type we do not define, or a detail its model refuses, is an EventContractError
    naming what is wrong (never the values: details may hold names and addresses).
    """
    model = EVENTS.get(detail_type)
    if model is None:
        raise EventContractError(
            f"{detail_type!r} is not a canonical event (known: {', '.join(sorted(EVENTS))})"
        )
    try:
        parsed = model.model_validate(
            {"version": EVENT_VERSION, **dict(detail)}, by_alias=True, by_name=False
        )
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" for e in error.errors()
        )
        raise EventContractError(f"{detail_type} detail breaks its schema: {problems}") from None
    return parsed.model_dump(mode="json", by_alias=True)


def json_schema(detail_type: str) -> dict[str, Any]:
    """The JSON Schema (draft 4, as the EventBridge schema registry reads it) of an event's
    detail."""
    model = EVENTS[detail_type]
    schema = model.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    if "$defs" in schema:
        schema["definitions"] = schema.pop("$defs")
    schema = _draft4(schema)
    # Always on the wire, though the model defaults it.
    schema["required"] = ["version", *schema.get("required", [])]
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": detail_type,
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _draft4(node: Any) -> Any:
    """Draft 2020-12 constructs pydantic writes, in their draft-4 form."""
    if isinstance(node, list):
        return [_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _draft4(v) for k, v in node.items()}
    if "const" in out:
        out["enum"] = [out.pop("const")]
    return out


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for detail_type in sorted(EVENTS):
        path = directory / f"{detail_type}.json"
        path.write_text(json.dumps(json_schema(detail_type), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m opayo_fba.model.events --write docs/events
    if len(sys.argv) != 3 or sys.argv[1] != "--write":
        print("usage: python -m opayo_fba.model.events --write DIRECTORY", file=sys.stderr)
        raise SystemExit(2)
    for written in write_schemas(Path(sys.argv[2])):
        print(written)
