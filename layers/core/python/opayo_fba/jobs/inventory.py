"""FBA inventory report (GET_FBA_MYI_*_INVENTORY_DATA) -> per-SKU inventory levels.

The report is tab-separated with a header row, one row per seller SKU. It is read line by
line; only the per-SKU levels are kept (one small object per SKU, not the file).

Amazon's UNSUPPRESSED report leaves out SKUs with nothing in stock, so a SKU we hold a level
for and the report no longer lists has dropped to zero: it is stored and announced as zero.

Seller SKUs become internal SKUs through the SKU mapping; a seller SKU missing from the
mapping is reported in the result (never passed through as if it were ours).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from opayo_fba.convert.sku import SkuMapping, UnknownSkuError
from opayo_fba.jobs.events import INVENTORY_LEVEL_CHANGED
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.saga.ports import EventPort
from opayo_fba.store.inventory import InventoryLevel, InventoryStore, level_changed

REQUIRED_COLUMNS = ("sku", "afn-fulfillable-quantity")
_OPTIONAL_COLUMNS = (
    "asin",
    "product-name",
    "afn-unsellable-quantity",
    "afn-reserved-quantity",
    "afn-total-quantity",
)


class InventoryRow(NamedTuple):
    seller_sku: str
    asin: str | None
    fulfillable: int
    unsellable: int
    reserved: int
    total: int
    product_name: str | None = None


def parse_inventory_report(lines: Iterable[str], source: str) -> Iterator[InventoryRow]:
    """Rows of an MYI inventory report; MalformedInputError names the line and column."""
    iterator = iter(lines)
    header = next(iterator, None)
    if header is None:
        raise MalformedInputError(source, 1, None, "the report is empty; expected a header row")
    names = [name.strip().lower() for name in header.rstrip("\r\n").split("\t")]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise MalformedInputError(
            source, 1, None, f"not an FBA inventory report: header lacks {', '.join(missing)}"
        )
    index = {name: names.index(name) for name in (*REQUIRED_COLUMNS, *_OPTIONAL_COLUMNS)
             if name in names}  # fmt: skip
    seen: set[str] = set()
    for line_no, line in enumerate(iterator, start=2):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        cells = text.split("\t")

        def cell(name: str, cells: list[str] = cells) -> str:
            position = index.get(name)
            return cells[position].strip() if position is not None and position < len(cells) else ""

        def quantity(name: str, line_no: int = line_no, default: int | None = None) -> int:
            value = cell(name)
            if value == "" and default is not None:
                return default
            if not value.isdigit():
                raise MalformedInputError(
                    source, line_no, name, f"{value!r} is not a whole number of units"
                )
            return int(value)

        seller_sku = cell("sku")
        if not seller_sku:
            raise MalformedInputError(source, line_no, "sku", "is empty")
        if seller_sku in seen:
            raise MalformedInputError(source, line_no, "sku", f"{seller_sku!r} appears twice")
        seen.add(seller_sku)
        fulfillable = quantity("afn-fulfillable-quantity")
        unsellable = quantity("afn-unsellable-quantity", default=0)
        reserved = quantity("afn-reserved-quantity", default=0)
        yield InventoryRow(
            seller_sku=seller_sku,
            asin=cell("asin") or None,
            fulfillable=fulfillable,
            unsellable=unsellable,
            reserved=reserved,
            total=quantity("afn-total-quantity", default=fulfillable + unsellable + reserved),
            product_name=cell("product-name") or None,
        )


@dataclass(frozen=True)
class InventoryResult:
    skus_in_report: int
    levels_changed: int
    events_published: int
    dropped_to_zero: tuple[str, ...]
    unmapped_seller_skus: tuple[str, ...]


def inventory_level_changed_detail(
    seller_account: str,
    level: InventoryLevel,
    previous: InventoryLevel | None,
    *,
    source: str = "report",
) -> dict[str, Any]:
    """The InventoryLevelChanged detail; `source` is report, inventory-summaries or
    notification (docs/pollers-and-reports.md)."""
    return {
        "eventId": f"{seller_account}#{level.sku}#{level.as_of.isoformat()}",
        "sellerAccount": seller_account,
        "sku": level.sku,
        "sellerSku": level.seller_sku,
        "asin": level.asin,
        "productName": level.product_name,
        "fulfillable": level.fulfillable,
        "unsellable": level.unsellable,
        "reserved": level.reserved,
        "total": level.total,
        "previousFulfillable": previous.fulfillable if previous is not None else None,
        "asOf": level.as_of.isoformat(),
        "reportId": level.report_id,
        "source": source,
    }


def apply_inventory_report(
    lines: Iterable[str],
    *,
    source: str,
    seller_account: str,
    report_id: str,
    as_of: datetime,
    store: InventoryStore,
    events: EventPort,
    skus: SkuMapping | None = None,
) -> InventoryResult:
    """Store the report's levels and publish InventoryLevelChanged for each SKU that changed.

    The event goes out before the level is stored: a crash in between publishes it again on
    the retry (at least once; `eventId` is stable), never not at all.
    """
    previous = store.levels(seller_account)
    levels: dict[str, InventoryLevel] = {}
    unmapped: list[str] = []
    for row in parse_inventory_report(lines, source):
        try:
            sku = skus.internal_sku(row.seller_sku) if skus is not None else row.seller_sku
        except UnknownSkuError:
            unmapped.append(row.seller_sku)
            continue
        levels[sku] = InventoryLevel(
            sku=sku,
            seller_sku=row.seller_sku,
            asin=row.asin,
            product_name=row.product_name,
            fulfillable=row.fulfillable,
            unsellable=row.unsellable,
            reserved=row.reserved,
            total=row.total,
            as_of=as_of,
            report_id=report_id,
        )
    in_report = len(levels)
    dropped = []
    for sku, stored in previous.items():
        if sku not in levels and stored.total > 0 and stored.as_of < as_of:
            dropped.append(sku)
            levels[sku] = stored.model_copy(
                update={
                    "fulfillable": 0,
                    "unsellable": 0,
                    "reserved": 0,
                    "total": 0,
                    "as_of": as_of,
                    "report_id": report_id,
                }
            )
    changed = published = 0
    for sku, level in levels.items():
        old = previous.get(sku)
        if not level_changed(level, old):
            continue
        events.publish(
            INVENTORY_LEVEL_CHANGED, inventory_level_changed_detail(seller_account, level, old)
        )
        published += 1
        if store.put_if_newer(seller_account, level):
            changed += 1
    return InventoryResult(
        skus_in_report=in_report,
        levels_changed=changed,
        events_published=published,
        dropped_to_zero=tuple(dropped),
        unmapped_seller_skus=tuple(unmapped),
    )
