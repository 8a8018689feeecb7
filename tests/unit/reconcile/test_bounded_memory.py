"""The input size must not decide the memory used: only the number of orders may."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator

from opayo_fba.reconcile.amazon import COLUMNS, SettlementParser
from opayo_fba.reconcile.config import ReconcileConfig
from opayo_fba.reconcile.engine import Reconciler
from opayo_fba.reconcile.opayo import BatchParser
from tests.unit.reconcile.builders import batch_xml, transaction

ORDERS = 200


def settlement(rows: int) -> Iterator[str]:
    """A generated settlement, produced line by line (never held whole)."""
    yield "\t".join(COLUMNS) + "\n"
    yield "\t".join(
        {"settlement-id": "1", "settlement-start-date": "2026-11-01",
         "settlement-end-date": "2026-11-15", "deposit-date": "2026-11-17",
         "total-amount": f"-{rows // 100}.{rows % 100:02d}", "currency": "GBP"}.get(c, "")
        for c in COLUMNS
    ) + "\n"  # fmt: skip
    for number in range(rows):
        cells = {
            "settlement-id": "1", "transaction-type": "Order",
            "merchant-order-id": f"MCF-{number % ORDERS:05d}", "amount-type": "ItemFees",
            "amount-description": "FBAPerUnitFulfillmentFee", "amount": "-0.01",
            "posted-date": "2026-11-02", "sku": f"SKU-{number}",
        }  # fmt: skip
        yield "\t".join(cells.get(c, "") for c in COLUMNS) + "\n"


def peak_bytes(chart: ReconcileConfig, rows: int) -> int:
    tracemalloc.start()
    try:
        reconciler = Reconciler(chart)
        entry = reconciler.add_settlement(SettlementParser(settlement(rows), "s.txt"))
        assert entry.ties_out()
        document = batch_xml(transaction(f"MCF-{n:05d}", "1.00") for n in range(ORDERS))
        reconciler.add_batch(BatchParser(io.BytesIO(document.encode()), "b.xml"))
        result = reconciler.finish()
        assert result.matched_orders == ORDERS
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_twenty_times_the_rows_for_the_same_orders_costs_no_more_memory(
    chart: ReconcileConfig,
) -> None:
    small = peak_bytes(chart, 1_000)
    large = peak_bytes(chart, 20_000)
    assert large < small * 1.5, (small, large)
