"""Small, readable builders of settlement files and batch responses for the tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from opayo_fba.reconcile.amazon import COLUMNS
from opayo_fba.reconcile.config import ReconcileConfig, default_config_path, load_config

SETTLEMENT_ID = "24601"


def config() -> ReconcileConfig:
    return load_config(default_config_path())


def row(**cells: str) -> dict[str, str]:
    """A settlement row; keys are column names with '_' for '-'."""
    return {name.replace("_", "-"): value for name, value in cells.items()}


def order_fee(merchant_order_id: str, amount: str, description: str = "FBAPerUnitFulfillmentFee",
              transaction_type: str = "Order") -> dict[str, str]:  # fmt: skip
    return row(
        transaction_type=transaction_type, merchant_order_id=merchant_order_id,
        amount_type="ItemFees", amount_description=description, amount=amount,
        posted_date="2026-11-02", sku="SKU-1", quantity_purchased="1",
    )  # fmt: skip


def settlement_lines(
    rows: Iterable[Mapping[str, str]],
    *,
    total: str,
    currency: str = "GBP",
    settlement_id: str = SETTLEMENT_ID,
    columns: tuple[str, ...] = COLUMNS,
    dates: tuple[str, str, str] = (
        "2026-11-01 00:00:00 UTC", "2026-11-15 00:00:00 UTC", "2026-11-17 00:00:00 UTC",
    ),
) -> list[str]:  # fmt: skip
    summary = {
        "settlement-id": settlement_id,
        "settlement-start-date": dates[0],
        "settlement-end-date": dates[1],
        "deposit-date": dates[2],
        "total-amount": total,
        "currency": currency,
    }
    lines = ["\t".join(columns) + "\n", "\t".join(summary.get(c, "") for c in columns) + "\n"]
    for cells in rows:
        unknown = set(cells) - set(columns)
        assert not unknown, unknown
        values = {"settlement-id": settlement_id, **cells}
        lines.append("\t".join(values.get(c, "") for c in columns) + "\n")
    return lines


def transaction(
    vendor_tx_code: str,
    amount: str,
    *,
    kind: str = "Payment",
    card: str = "VISA",
    currency: str = "GBP",
    related: str = "",
    fee: str | None = None,
) -> str:
    parts = [
        f"<vpstxid>{{{vendor_tx_code}-VPS}}</vpstxid>",
        f"<vendortxcode>{vendor_tx_code}</vendortxcode>",
        f"<transactiontype>{kind}</transactiontype>",
        f"<cardtype>{card}</cardtype>",
        f"<currency>{currency}</currency>",
        f"<amount>{amount}</amount>",
    ]
    if related:
        parts.append(f"<relatedvendortxcode>{related}</relatedvendortxcode>")
    if fee is not None:
        parts.append(f"<fee>{fee}</fee>")
    return "<transaction>" + "".join(parts) + "</transaction>"


def batch_xml(
    transactions: Iterable[str],
    *,
    batch_id: str = "501",
    totals: str = "",
    total_rows: int | None = None,
    business_date: str = "2026-11-15",
) -> str:
    """The sandbox's shape: header and transactions inside <batch>, one element per line."""
    items = list(transactions)
    rows = len(items) if total_rows is None else total_rows
    body = "\n".join(items)
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<vspaccess>\n<errorcode>0000</errorcode>\n"
        "<timestamp>16/11/2026 01:00:00</timestamp>\n<batch>\n"
        f"<batchid>{batch_id}</batchid>\n<authprocessor>Elavon</authprocessor>\n"
        f"<businessdate>{business_date}</businessdate>\n"
        f"<totals>{totals}</totals>\n"
        f"<transactions>\n<totalrows>{rows}</totalrows>\n{body}\n</transactions>\n"
        "</batch>\n</vspaccess>\n"
    )


def write(path: Path, content: str | list[str]) -> Path:
    path.write_text("".join(content) if isinstance(content, list) else content, "utf-8")
    return path
