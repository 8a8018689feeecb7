"""FBA inventory report -> levels, stored and announced only when they change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opayo_fba.convert.sku import SkuMapping
from opayo_fba.jobs.events import INVENTORY_LEVEL_CHANGED
from opayo_fba.jobs.inventory import (
    InventoryResult,
    apply_inventory_report,
    parse_inventory_report,
)
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.store.inventory import InventoryStore
from tests.unit.polling.support import RecordingEvents

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
HEADER = (
    "sku\tfnsku\tasin\tproduct-name\tcondition\tyour-price\tmfn-listing-exists\t"
    "mfn-fulfillable-quantity\tafn-listing-exists\tafn-warehouse-quantity\t"
    "afn-fulfillable-quantity\tafn-unsellable-quantity\tafn-reserved-quantity\t"
    "afn-total-quantity\n"
)
SKUS = SkuMapping.from_pairs({"MUG-BLUE": "AMZ-MUG-BLUE", "MUG-RED": "AMZ-MUG-RED"})


def report(*rows: tuple[str, int, int, int]) -> list[str]:
    """rows: (seller SKU, fulfillable, unsellable, reserved)."""
    lines = [HEADER]
    for sku, fulfillable, unsellable, reserved in rows:
        total = fulfillable + unsellable + reserved
        lines.append(
            f"{sku}\tX001\tB000000001\tMug\tNew\t12.99\tNo\t0\tYes\t{total}\t{fulfillable}\t"
            f"{unsellable}\t{reserved}\t{total}\n"
        )
    return lines


def apply(
    lines: list[str], store: InventoryStore, events: RecordingEvents, as_of: datetime
) -> InventoryResult:
    return apply_inventory_report(
        lines,
        source="inventory.tsv",
        seller_account="uk-main",
        report_id=f"R-{as_of:%H%M}",
        as_of=as_of,
        store=store,
        events=events,
        skus=SKUS,
    )


def test_rows_are_read_with_their_quantities() -> None:
    rows = list(parse_inventory_report(report(("AMZ-MUG-BLUE", 7, 1, 2)), "inv.tsv"))
    assert [(r.seller_sku, r.fulfillable, r.unsellable, r.reserved, r.total) for r in rows] == [
        ("AMZ-MUG-BLUE", 7, 1, 2, 10)
    ]
    assert rows[0].asin == "B000000001"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "inv.tsv, line 1: the report is empty"),
        (["sku\tasin\n"], "header lacks afn-fulfillable-quantity"),
        (
            [HEADER, "AMZ-1\tX\tB1\tMug\tNew\t1\tNo\t0\tYes\t1\tmany\t0\t0\t1\n"],
            "inv.tsv, line 2: field 'afn-fulfillable-quantity': 'many' is not a whole number",
        ),
        (
            [HEADER, "AMZ-1\tX\tB1\tMug\tNew\t1\tNo\t0\tYes\t1\t-1\t0\t0\t1\n"],
            "line 2: field 'afn-fulfillable-quantity'",
        ),
        ([*report(("AMZ-1", 1, 0, 0)), *report(("AMZ-1", 2, 0, 0))[1:]], "appears twice"),
    ],
)
def test_a_malformed_report_names_the_line_and_field(lines: list[str], message: str) -> None:
    with pytest.raises(MalformedInputError, match=message):
        list(parse_inventory_report(lines, "inv.tsv"))


def test_levels_are_stored_and_announced_only_when_they_change(
    inventory: InventoryStore,
) -> None:
    events = RecordingEvents()
    first = apply(
        report(("AMZ-MUG-BLUE", 7, 0, 1), ("AMZ-MUG-RED", 3, 0, 0)), inventory, events, T0
    )
    assert first.levels_changed == 2
    levels = inventory.levels("uk-main")
    assert (levels["MUG-BLUE"].fulfillable, levels["MUG-BLUE"].total) == (7, 8)
    assert levels["MUG-BLUE"].seller_sku == "AMZ-MUG-BLUE"
    assert len(events.of(INVENTORY_LEVEL_CHANGED)) == 2

    later = T0 + timedelta(hours=1)
    second = apply(
        report(("AMZ-MUG-BLUE", 7, 0, 1), ("AMZ-MUG-RED", 2, 0, 0)), inventory, events, later
    )
    assert second.levels_changed == 1
    changed = events.of(INVENTORY_LEVEL_CHANGED)[-1]
    assert (changed["sku"], changed["fulfillable"], changed["previousFulfillable"]) == (
        "MUG-RED",
        2,
        3,
    )
    assert len(events.published) == 3


def test_a_sku_the_report_no_longer_lists_has_dropped_to_zero(inventory: InventoryStore) -> None:
    events = RecordingEvents()
    apply(report(("AMZ-MUG-BLUE", 7, 0, 0), ("AMZ-MUG-RED", 3, 0, 0)), inventory, events, T0)
    result = apply(report(("AMZ-MUG-BLUE", 7, 0, 0)), inventory, events, T0 + timedelta(hours=1))
    assert result.dropped_to_zero == ("MUG-RED",)
    assert inventory.levels("uk-main")["MUG-RED"].total == 0
    assert events.of(INVENTORY_LEVEL_CHANGED)[-1]["sku"] == "MUG-RED"
    assert events.of(INVENTORY_LEVEL_CHANGED)[-1]["fulfillable"] == 0


def test_an_older_report_never_overwrites_a_newer_level(inventory: InventoryStore) -> None:
    events = RecordingEvents()
    apply(report(("AMZ-MUG-BLUE", 7, 0, 0)), inventory, events, T0)
    result = apply(report(("AMZ-MUG-BLUE", 1, 0, 0)), inventory, events, T0 - timedelta(hours=1))
    assert result.levels_changed == 0
    assert inventory.levels("uk-main")["MUG-BLUE"].fulfillable == 7
    assert len(events.published) == 1


def test_unmapped_seller_skus_are_reported_not_passed_through(inventory: InventoryStore) -> None:
    events = RecordingEvents()
    result = apply(
        report(("AMZ-MUG-BLUE", 7, 0, 0), ("AMZ-TEAPOT", 1, 0, 0)), inventory, events, T0
    )
    assert result.unmapped_seller_skus == ("AMZ-TEAPOT",)
    assert set(inventory.levels("uk-main")) == {"MUG-BLUE"}


def test_a_failed_event_publish_leaves_the_level_for_the_retry(inventory: InventoryStore) -> None:
    events = RecordingEvents(fail_next=True)
    with pytest.raises(RuntimeError):
        apply(report(("AMZ-MUG-BLUE", 7, 0, 0)), inventory, events, T0)
    assert inventory.levels("uk-main") == {}
    apply(report(("AMZ-MUG-BLUE", 7, 0, 0)), inventory, events, T0)
    assert [e["sku"] for e in events.of(INVENTORY_LEVEL_CHANGED)] == ["MUG-BLUE"]
