"""Daily settlement: from 00:00 (UTC, on the sandbox clock) each day, the previous day's
captured money forms one batch per acquiring bank, with Opayo's fee on every item.

What settles, dated when the money moved: an authorised Payment or Repeat (its creation), a
released Deferred (its release, for the released amount) and a Refund (its creation, negative).
Voided transactions never settle (a void is possible only before settlement). Settlement is
computed lazily whenever someone looks, and a batch once formed never changes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.opayo.context import SandboxContext
from sandbox.opayo.options import OpayoSandboxOptions
from sandbox.opayo.state import BATCH, Record, iso, parse_iso


# rule: OPAYO-STL-02
def settled_amount(record: Record) -> int:
    """Signed minor units this transaction moves at settlement (0 when nothing settles)."""
    if record["status"] != "Ok" or record["voided"] or not record["settleableAt"]:
        return 0
    kind = record["transactionType"]
    if kind == "Refund":
        return -int(record["amount"])
    if kind == "Deferred":
        return int(record["releasedAmount"] or 0)
    return int(record["amount"])


# rule: OPAYO-STL-03
def fee_for(options: OpayoSandboxOptions, card_type: str, amount: int) -> int:
    """Fixed part + percentage of the absolute amount, rounded half up to minor units."""
    rule = options.fee_rule(card_type)
    percentage = (Decimal(abs(amount)) * rule.percent / 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return rule.fixed_minor + int(percentage)


# rule: OPAYO-STL-01
def settle(context: SandboxContext) -> list[Record]:
    """Form every batch due by now; returns the batches formed by this call."""
    today = context.clock.now().date()
    store = context.state.store
    formed: list[Record] = []
    with store.transaction():
        due: dict[tuple[date, str], list[Record]] = defaultdict(list)
        for record in context.state.transactions():
            amount = settled_amount(record)
            if amount == 0 or record["batchId"] is not None:
                continue
            day = parse_iso(record["settleableAt"]).date()
            if day < today:
                card_type = (record.get("card") or {}).get("serverCardType", "")
                due[(day, context.options.acquirer(card_type))].append(record)
        for (day, acquirer), records in sorted(due.items()):
            batch_id = context.state.next_sequence("batch")
            items = [_item(context.options, record) for record in records]
            batch: dict[str, Any] = {
                "batchId": batch_id,
                "authProcessor": acquirer,
                "businessDate": day.isoformat(),
                "settledAt": iso(datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)),
                "items": items,
                "totals": _totals(items),
                "groups": transaction_groups(items),
            }
            store.put(BATCH, str(batch_id), batch)
            for record in records:
                record["batchId"] = batch_id
                context.state.save_transaction(record)
            formed.append(batch)
    return formed


def _item(options: OpayoSandboxOptions, record: Record) -> dict[str, Any]:
    amount = settled_amount(record)
    card_type = (record.get("card") or {}).get("serverCardType", "")
    fee = fee_for(options, card_type, amount)
    return {
        "transactionId": record["transactionId"],
        "vpsTxId": record["vpsTxId"],
        "vendorTxCode": record["vendorTxCode"],
        "transactionType": record["transactionType"],
        "cardType": card_type,
        "currency": record["currency"],
        "amount": amount,
        "fee": fee,
        "net": amount - fee,
        "settleableAt": record["settleableAt"],
    }


def _totals(items: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for item in items:
        total = totals.setdefault(item["currency"], {"count": 0, "gross": 0, "fees": 0, "net": 0})
        total["count"] += 1
        total["gross"] += item["amount"]
        total["fees"] += item["fee"]
        total["net"] += item["net"]
    return totals


def transaction_groups(items: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per currency, what getBatchList's <transactiongroup> reports: payments and refunds,
    counted and summed (refunds as a positive value)."""
    groups: dict[str, dict[str, int]] = {}
    for item in items:
        group = groups.setdefault(
            item["currency"],
            {"paymentNumber": 0, "paymentValue": 0, "refundNumber": 0, "refundValue": 0},
        )
        if item["amount"] < 0:
            group["refundNumber"] += 1
            group["refundValue"] -= item["amount"]
        else:
            group["paymentNumber"] += 1
            group["paymentValue"] += item["amount"]
    return groups


def batches(context: SandboxContext) -> list[Record]:
    settle(context)
    return sorted(context.state.store.all(BATCH), key=lambda batch: batch["batchId"])
