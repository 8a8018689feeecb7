"""Settlement reports (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2) from completed MCF orders.

Every `settlement_period_days` of sandbox time (or on `POST /_sandbox/settlements/close`)
the sandbox closes a settlement: every fulfillment order completed since the last one is
charged its MCF per-unit fulfillment fee (one ItemFees/FBAPerUnitFulfillmentFee row per item),
plus one other-transaction storage-fee row, in the V2 flat-file layout. Amounts are computed in
integer minor units and written as signed decimal strings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.amazon import fulfillment, reports
from sandbox.amazon.money import to_decimal
from sandbox.amazon.state import AmazonState

COLUMNS = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "merchant-order-id",
    "adjustment-id",
    "shipment-id",
    "marketplace-name",
    "amount-type",
    "amount-description",
    "amount",
    "fulfillment-id",
    "posted-date",
    "posted-date-time",
    "order-item-code",
    "merchant-order-item-id",
    "merchant-adjustment-item-id",
    "sku",
    "quantity-purchased",
    "promotion-id",
)
MARKETPLACE_NAME = "Non-Amazon"
# Storage is charged per unit held at the close, in minor units.
STORAGE_FEE_PER_UNIT_MINOR = 2


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _row(**values: str) -> dict[str, str]:
    return {column: values.get(column.replace("-", "_"), "") for column in COLUMNS}


def _order_rows(state: AmazonState, record: dict[str, Any]) -> list[tuple[dict[str, str], int]]:
    completed = datetime.fromtimestamp(record["completed_at"], UTC)
    order_record = state.store.get("order", record["amazon_order_id"]) or {"items": []}
    order_items = {item["SellerSKU"]: item["OrderItemId"] for item in order_record["items"]}
    shipment_id = record["shipments"][0]["amazonShipmentId"] if record["shipments"] else ""
    rows = []
    for item in record["items"]:
        shipped = fulfillment.shipped_quantity(item)
        if shipped == 0:
            continue
        stock = state.catalog_item(item["sellerSku"]) or {"mcf_fee_minor": 0, "currency": "GBP"}
        fee = -stock["mcf_fee_minor"] * shipped
        rows.append(
            (
                _row(
                    transaction_type="Order",
                    order_id=record["amazon_order_id"],
                    merchant_order_id=record["order"]["sellerFulfillmentOrderId"],
                    shipment_id=shipment_id,
                    marketplace_name=MARKETPLACE_NAME,
                    amount_type="ItemFees",
                    amount_description="FBAPerUnitFulfillmentFee",
                    amount=to_decimal(fee, stock["currency"]),
                    fulfillment_id="AFN",
                    posted_date=completed.strftime("%Y-%m-%d"),
                    posted_date_time=_stamp(completed),
                    order_item_code=order_items.get(item["sellerSku"], ""),
                    merchant_order_item_id=item["sellerFulfillmentOrderItemId"],
                    sku=item["sellerSku"],
                    quantity_purchased=str(shipped),
                ),
                fee,
            )
        )
    return rows


def close_settlement(state: AmazonState, end: datetime) -> dict[str, Any]:
    """Close the settlement period ending at `end`; returns the report it produced."""
    with state.store.transaction():
        meta = state.store.get("meta", "settlement") or {"last_close": end.timestamp()}
        start = datetime.fromtimestamp(meta["last_close"], UTC)
        currency = "GBP"
        settlement_id = str(20000000000 + state.next_number("settlement"))
        settled = fulfillment.completed_unsettled(state, end)
        rows: list[tuple[dict[str, str], int]] = []
        for record in sorted(settled, key=lambda r: r["completed_at"]):
            rows.extend(_order_rows(state, record))
        units = sum(r["quantity"] for r in state.store.all("inventory"))
        storage = -units * STORAGE_FEE_PER_UNIT_MINOR
        rows.append(
            (
                _row(
                    transaction_type="other-transaction",
                    marketplace_name=MARKETPLACE_NAME,
                    amount_type="other-transaction",
                    amount_description="Storage Fee",
                    amount=to_decimal(storage, currency),
                    posted_date=end.strftime("%Y-%m-%d"),
                    posted_date_time=_stamp(end),
                ),
                storage,
            )
        )
        total = sum(amount for _, amount in rows)
        summary = _row(
            settlement_start_date=_stamp(start),
            settlement_end_date=_stamp(end),
            deposit_date=_stamp(end + timedelta(days=2)),
            total_amount=to_decimal(total, currency),
            currency=currency,
        )
        lines = ["\t".join(COLUMNS)]
        for row in [summary, *(row for row, _ in rows)]:
            row["settlement-id"] = settlement_id
            lines.append("\t".join(row[column] for column in COLUMNS))
        report = reports.add_finished_report(
            state,
            reports.SETTLEMENT_REPORT_TYPE,
            "\n".join(lines) + "\n",
            created=end,
            data_start=start,
            data_end=end,
        )
        for record in settled:
            fulfillment.mark_settled(state, record)
        state.store.put("meta", "settlement", {"last_close": end.timestamp()})
        return report


def tick(state: AmazonState, now: datetime) -> None:
    period = timedelta(days=state.options.settlement_period_days)
    while True:
        meta = state.store.get("meta", "settlement")
        if meta is None:
            return
        due = datetime.fromtimestamp(meta["last_close"], UTC) + period
        if due > now:
            return
        close_settlement(state, due)
