"""Matching per order and the journal entries, through the public Reconciler API."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import pytest

from opayo_fba.reconcile.amazon import SettlementParser
from opayo_fba.reconcile.config import ReconcileConfig
from opayo_fba.reconcile.engine import Reconciler, ReconcileResult
from opayo_fba.reconcile.errors import MalformedInputError
from opayo_fba.reconcile.matching import ReconcileException
from opayo_fba.reconcile.opayo import BatchParser
from opayo_fba.reconcile.orders import OrderBook
from tests.unit.reconcile.builders import (
    batch_xml,
    order_fee,
    row,
    settlement_lines,
    transaction,
)


def run(
    chart: ReconcileConfig,
    settlement_rows: list[dict[str, str]],
    transactions: list[str],
    *,
    orders: list[dict[str, object]] | None = None,
    total: str | None = None,
    totals: str = "",
) -> tuple[ReconcileResult, list[ReconcileException]]:
    found: list[ReconcileException] = []
    book = None
    if orders is not None:
        book = OrderBook.from_json_lines([json.dumps(o) for o in orders], "orders.jsonl")
    reconciler = Reconciler(chart, orders=book, on_exception=found.append)
    if total is None:
        from opayo_fba.reconcile.amounts import format_minor, to_minor

        total = format_minor(sum(to_minor(r["amount"], 2, "GBP") for r in settlement_rows), 2)
    reconciler.add_settlement(
        SettlementParser(settlement_lines(settlement_rows, total=total), "s.txt")
    )
    data = batch_xml(transactions, totals=totals).encode()
    reconciler.add_batch(BatchParser(io.BytesIO(data), "b.xml"))
    return reconciler.finish(), found


def reasons(found: list[ReconcileException]) -> set[tuple[str, str]]:
    return {(e.reason, e.order) for e in found}


def test_a_clean_order_matches_with_no_exceptions(chart: ReconcileConfig) -> None:
    result, found = run(
        chart,
        [order_fee("MCF-1", "-2.00"), order_fee("MCF-1", "-0.50", "FBAWeightBasedFee")],
        [transaction("MCF-1", "20.00")],
    )
    assert found == []
    assert (result.matched_orders, result.orders_seen) == (1, 1)
    assert all(entry.is_balanced() and entry.ties_out() for entry in result.entries)


def test_each_order_level_exception_has_its_reason(chart: ReconcileConfig) -> None:
    result, found = run(
        chart,
        [
            order_fee("CAPTURED-ONCE", "-1.00"),
            order_fee("FULFILLED-ONLY", "-1.00"),
            order_fee("TWICE", "-1.00"),
            order_fee("REFUNDED", "-1.00"),
            order_fee("RETURNED", "-1.00"),
            order_fee("RETURNED", "-0.40", "FBACustomerReturnPerUnitFee", "Refund"),
        ],
        [
            transaction("CAPTURED-ONCE", "10.00"),
            transaction("CAPTURED-ONLY", "10.00"),
            transaction("TWICE", "10.00"),
            transaction("TWICE", "10.00"),
            transaction("REFUNDED", "10.00"),
            transaction("RFND-1", "-10.00", kind="Refund", related="REFUNDED"),
            transaction("RETURNED", "10.00"),
            transaction("RFND-2", "-10.00", kind="Refund", related="RETURNED"),
        ],
    )
    assert reasons(found) == {
        ("captured_not_fulfilled", "CAPTURED-ONLY"),
        ("fulfilled_not_captured", "FULFILLED-ONLY"),
        ("duplicate_capture", "TWICE"),
        ("refund_without_return", "REFUNDED"),
    }
    unpaid = next(e for e in found if e.reason == "fulfilled_not_captured")
    assert (unpaid.amount_minor, unpaid.currency) == (-100, "GBP")
    duplicate = next(e for e in found if e.reason == "duplicate_capture")
    assert (duplicate.amount_minor, duplicate.currency) == (2000, "GBP")
    assert result.matched_orders == 2  # CAPTURED-ONCE and RETURNED
    assert result.exceptions_by_reason["duplicate_capture"] == 1


def test_with_an_orders_file_amounts_and_unknown_ids_are_checked(chart: ReconcileConfig) -> None:
    orders = [
        {"orderId": "O-1", "sellerFulfillmentOrderId": "MCF-1", "vendorTxCode": "VTX-1",
         "totalAmount": {"amount": 2000, "currency": "GBP"}},
        {"order_id": "O-2", "payment_reference": "VTX-2", "refundVendorTxCodes": ["RF-2"],
         "totals": {"grand_total": {"amount": 1500, "currency": "GBP"}}},
        {"orderId": "O-3", "vendorTxCode": "VTX-3", "totalMinor": 999, "currency": "EUR"},
    ]  # fmt: skip
    result, found = run(
        chart,
        [order_fee("MCF-1", "-1.00"), order_fee("O-2", "-1.00"), order_fee("O-3", "-1.00"),
         order_fee("MCF-404", "-1.00"), order_fee("MCF-404", "-1.00")],
        [transaction("VTX-1", "20.00"), transaction("VTX-2", "14.00"),
         transaction("RF-2", "-1.00", kind="Refund"), transaction("VTX-3", "9.99"),
         transaction("VTX-404", "5.00")],
        orders=orders,
    )  # fmt: skip
    assert reasons(found) == {
        ("amount_mismatch", "O-2"),
        ("refund_without_return", "O-2"),
        ("amount_mismatch", "O-3"),
        ("unknown_order", "MCF-404"),
        ("unknown_order", "VTX-404"),
    }
    mismatch = next(e for e in found if e.order == "O-2" and e.reason == "amount_mismatch")
    assert (mismatch.amount_minor, mismatch.expected_minor) == (1400, 1500)
    unknown = next(e for e in found if e.order == "MCF-404")
    assert (unknown.source, unknown.line, unknown.amount_minor) == ("s.txt", 6, -200)
    assert "2 row(s)" in unknown.detail
    assert result.matched_orders == 1


def test_an_unknown_amount_type_is_carried_to_suspense_and_reported(
    chart: ReconcileConfig,
) -> None:
    rows = [
        order_fee("MCF-1", "-1.00"),
        row(transaction_type="other-transaction", amount_type="BrandNewFee",
            amount_description="Something", amount="-3.21"),
        row(transaction_type="other-transaction", amount_type="BrandNewFee",
            amount_description="Something", amount="-1.00"),
    ]  # fmt: skip
    result, found = run(chart, rows, [transaction("MCF-1", "5.00")])
    (unknown,) = [e for e in found if e.reason == "unknown_amount_type"]
    assert (unknown.line, unknown.amount_minor) == (4, -421)
    assert "BrandNewFee/Something (2 rows" in unknown.detail
    settlement = result.entries[0]
    suspense = [line for line in settlement.lines if line.account == chart.suspense]
    assert [(s.debit_minor, s.memo) for s in suspense] == [(421, "BrandNewFee/Something")]
    assert settlement.is_balanced()
    assert settlement.ties_out()
    assert result.category_totals[("GBP", "BrandNewFee/Something")] == -421


def test_settlement_entry_posts_every_amount_and_ties_out(chart: ReconcileConfig) -> None:
    rows = [
        row(transaction_type="Order", merchant_order_id="MCF-1", amount_type="ItemPrice",
            amount_description="Principal", amount="10.00"),
        order_fee("MCF-1", "-2.50"),
        row(transaction_type="other-transaction", amount_type="other-transaction",
            amount_description="Storage Fee", amount="-1.25"),
    ]  # fmt: skip
    result, _ = run(chart, rows, [transaction("MCF-1", "10.00")])
    settlement = result.entries[0]
    by_account = {(line.account, line.memo): (line.debit_minor, line.credit_minor)
                  for line in settlement.lines}  # fmt: skip
    assert by_account[("4000 Sales - Amazon", "ItemPrice/Principal")] == (0, 1000)
    assert by_account[("6200 Fulfilment fees - MCF", "ItemFees/FBAPerUnitFulfillmentFee")] == (
        250, 0,
    )  # fmt: skip
    assert by_account[("6300 FBA storage fees", "other-transaction/Storage Fee")] == (125, 0)
    assert by_account[("1250 Amazon settlement clearing", "Amazon settlement 24601")] == (625, 0)
    assert (settlement.clearing_minor, settlement.control_total_minor) == (625, 625)


def test_a_settlement_that_does_not_add_up_is_reported(chart: ReconcileConfig) -> None:
    result, found = run(chart, [order_fee("MCF-1", "-1.00")], [transaction("MCF-1", "1.00")],
                        total="-1.01")  # fmt: skip
    (mismatch,) = [e for e in found if e.reason == "settlement_total_mismatch"]
    assert (mismatch.amount_minor, mismatch.expected_minor) == (-100, -101)
    assert not result.entries[0].ties_out()
    assert result.entries[0].is_balanced()


def test_batch_entry_with_fees_from_the_schedule_ties_out_to_opayo_net(
    chart: ReconcileConfig,
) -> None:
    # VISA 1.20% + 2p: 10.00 -> 14p; AMEX 2.50% + 0: 20.00 -> 50p; refund 5.00 VISA -> 8p
    totals = ("<total><currency>GBP</currency><count>3</count><gross>25.00</gross>"
              "<fees>0.72</fees><net>24.28</net></total>")  # fmt: skip
    result, found = run(
        chart,
        [order_fee("A", "-1.00"), order_fee("B", "-1.00"),
         order_fee("A", "-1.00", "FBACustomerReturnPerUnitFee", "Refund")],
        [transaction("A", "10.00", fee="0.14"), transaction("B", "20.00", card="AMEX"),
         transaction("RF-A", "-5.00", kind="Refund", related="A")],
        totals=totals,
    )  # fmt: skip
    assert found == []
    batch = result.entries[1]
    lines = {line.account: (line.debit_minor, line.credit_minor) for line in batch.lines
             if line.account != "1100 Trade debtors"}  # fmt: skip
    assert lines == {
        "7700 Payment processing fees": (72, 0),
        "1260 Opayo settlement clearing": (2428, 0),
    }
    debtors = [line for line in batch.lines if line.account == "1100 Trade debtors"]
    assert sorted((d.debit_minor, d.credit_minor) for d in debtors) == [(0, 3000), (500, 0)]
    assert batch.is_balanced()
    assert batch.ties_out()
    assert (batch.clearing_minor, batch.control_total_minor) == (2428, 2428)


def test_batch_totals_and_fees_that_disagree_are_reported(chart: ReconcileConfig) -> None:
    totals = ("<total><currency>GBP</currency><count>2</count><gross>11.00</gross>"
              "<fees>0.50</fees><net>10.50</net></total>")  # fmt: skip
    _, found = run(chart, [order_fee("A", "-1.00")], [transaction("A", "10.00", fee="0.50")],
                   totals=totals)  # fmt: skip
    assert {e.reason for e in found} == {"batch_total_mismatch", "fee_mismatch"}
    fee = next(e for e in found if e.reason == "fee_mismatch")
    assert (fee.amount_minor, fee.expected_minor) == (14, 50)
    assert "1 transaction(s) differ" in fee.detail
    gross = next(e for e in found if "gross" in e.detail)
    assert (gross.amount_minor, gross.expected_minor) == (1000, 1100)


def test_fees_accrued_when_not_deducted_from_the_payout(chart: ReconcileConfig) -> None:
    schedule = chart.opayo_fee_schedule.model_copy(update={"deducted_from_payout": False})
    accrued = chart.model_copy(update={"opayo_fee_schedule": schedule})
    result, _ = run(accrued, [order_fee("A", "-1.00")], [transaction("A", "10.00")])
    batch = result.entries[1]
    lines = {line.account: (line.debit_minor, line.credit_minor) for line in batch.lines}
    assert lines["1260 Opayo settlement clearing"] == (1000, 0)
    assert lines["2150 Opayo fees accrued"] == (0, 14)
    assert batch.is_balanced()


def test_a_transaction_type_that_moves_no_money_is_reported_not_posted(
    chart: ReconcileConfig,
) -> None:
    result, found = run(
        chart,
        [order_fee("A", "-1.00")],
        [transaction("A", "10.00"), transaction("A-V", "3.00", kind="Void")],
    )
    assert [(e.reason, e.order, e.line) for e in found] == [("unknown_transaction_type", "A-V", 13)]
    assert result.entries[1].clearing_minor == 1000 - 14


def test_the_same_settlement_twice_is_refused(chart: ReconcileConfig) -> None:
    reconciler = Reconciler(chart)
    lines = settlement_lines([order_fee("A", "-1.00")], total="-1.00")
    reconciler.add_settlement(SettlementParser(lines, "one.txt"))
    with pytest.raises(MalformedInputError, match=r"already read from one\.txt"):
        reconciler.add_settlement(SettlementParser(lines, "two.txt"))


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"orderId": "A"}', "totalAmount", "missing"),
        ('{"orderId": "A", "totalMinor": 12.5, "currency": "GBP"}', "totalMinor", "integer"),
        ('{"orderId": "A", "totalMinor": 1, "currency": "GBX"}', "currency", "GBX"),
        ('{"totalMinor": 1, "currency": "GBP"}', "orderId", "missing"),
        ("not json", None, "not JSON"),
        ("[1]", None, "JSON object"),
    ],
)
def test_bad_orders_lines_name_the_line_and_field(
    line: str, field: str | None, message: str
) -> None:
    good = '{"orderId": "Z", "totalMinor": 1, "currency": "GBP"}'
    with pytest.raises(MalformedInputError, match=message) as raised:
        OrderBook.from_json_lines([good, "", line], "orders.jsonl")
    assert (raised.value.line, raised.value.field) == (3, field)


def test_an_id_claimed_by_two_orders_is_refused() -> None:
    lines = [
        '{"orderId": "A", "vendorTxCode": "V", "totalMinor": 1, "currency": "GBP"}',
        '{"orderId": "B", "vendorTxCode": "V", "totalMinor": 1, "currency": "GBP"}',
    ]
    with pytest.raises(MalformedInputError, match="already belongs") as raised:
        OrderBook.from_json_lines(lines, "orders.jsonl")
    assert (raised.value.line, raised.value.field) == (2, "vendorTxCode")


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        ("<businessdate>2026-07-15</businessdate>", datetime(2026, 7, 15, tzinfo=UTC)),
        ("<batchdate>15/07/2026</batchdate>", datetime(2026, 7, 15, tzinfo=UTC)),
        ("<batchdate>15/07/2026 10:00:00</batchdate>", datetime(2026, 7, 15, 9, tzinfo=UTC)),
    ],
)
def test_batch_entries_are_dated_by_the_batch(
    chart: ReconcileConfig, element: str, expected: datetime
) -> None:
    document = batch_xml([transaction("A", "1.00")]).replace(
        "<businessdate>2026-11-15</businessdate>", element
    )
    reconciler = Reconciler(chart)
    reconciler.add_batch(BatchParser(io.BytesIO(document.encode()), "b.xml"))
    (entry,) = reconciler.finish().entries
    assert entry.date == expected


def test_an_unreadable_batch_date_names_the_field(chart: ReconcileConfig) -> None:
    document = batch_xml([transaction("A", "1.00")], business_date="next tuesday")
    reconciler = Reconciler(chart)
    reconciler.add_batch(BatchParser(io.BytesIO(document.encode()), "b.xml"))
    with pytest.raises(MalformedInputError, match="next tuesday") as raised:
        reconciler.finish()
    assert (raised.value.source, raised.value.field) == ("b.xml", "batchdate")


# A batch as the pipeline archives it from the Opayo sandbox (opayo_fba.jobs.opayo_batches
# over sandbox/opayo/reporting.py): getBatchList's header and transactiongroups, then the
# getBatchDetail rows (a payment, a released Deferred and a refund; no fees: Opayo reports none).
SANDBOX_BATCH = (
    "<vspaccess><errorcode>0000</errorcode><batch>"
    "<batchid>2</batchid><authprocessor>Elavon</authprocessor>"
    "<completed>03/03/2026 00:00:00.000</completed><transactiongroups><transactiongroup>"
    "<currency>GBP</currency><paymentnumber>2</paymentnumber><paymentvalue>160.00</paymentvalue>"
    "<refundnumber>1</refundnumber><refundvalue>30.00</refundvalue></transactiongroup>"
    "</transactiongroups><transactions>"
    "<transaction><rownumber>1</rownumber><vpstxid>{738F07EE-029F-4634-9E76-87D0F80E28C3}"
    "</vpstxid><vendortxcode>s-visa</vendortxcode><transactiontype>Payment</transactiontype>"
    "<paymentsystem>VISA</paymentsystem><currency>GBP</currency><amount>100.00</amount>"
    "<started>02/03/2026 09:00:00.000</started></transaction>"
    "<transaction><rownumber>2</rownumber><vpstxid>{A1F6D86D-367F-4123-AC3A-0DA886258C64}"
    "</vpstxid><vendortxcode>s-deferred</vendortxcode><transactiontype>Deferred"
    "</transactiontype><paymentsystem>VISA</paymentsystem><currency>GBP</currency>"
    "<amount>60.00</amount><started>02/03/2026 09:00:00.000</started>"
    "</transaction><transaction><rownumber>3</rownumber>"
    "<vpstxid>{3A1A96DD-CD44-41AB-B5C3-EA7326257AEF}</vpstxid><vendortxcode>s-refund"
    "</vendortxcode><transactiontype>Refund</transactiontype><paymentsystem>VISA</paymentsystem>"
    "<currency>GBP</currency><amount>-30.00</amount>"
    "<started>02/03/2026 09:00:00.000</started></transaction><totalrows>3</totalrows>"
    "</transactions></batch></vspaccess>"
)


def test_a_sandbox_batch_ties_out_with_the_example_fee_schedule(chart: ReconcileConfig) -> None:
    found: list[ReconcileException] = []
    reconciler = Reconciler(chart, on_exception=found.append)
    reconciler.add_batch(BatchParser(io.BytesIO(SANDBOX_BATCH.encode()), "b.xml"))
    (entry,) = reconciler.finish().entries
    # fees as the schedule says; the transactiongroups' gross and count agree (no settlement:
    # orders unfulfilled), so the only exceptions are about orders
    assert {e.reason for e in found} == {"captured_not_fulfilled", "unknown_order"}
    assert (entry.entry_id, entry.clearing_minor, entry.control_total_minor) == (
        "OPY-2-GBP", 12766, 12766,
    )  # fmt: skip
    assert entry.is_balanced()
    assert entry.date == datetime(2026, 3, 3, tzinfo=UTC)  # completed, UK time (GMT in March)


def test_transaction_groups_that_disagree_with_the_rows_are_reported(
    chart: ReconcileConfig,
) -> None:
    found: list[ReconcileException] = []
    reconciler = Reconciler(chart, on_exception=found.append)
    short = SANDBOX_BATCH.replace("<paymentvalue>160.00", "<paymentvalue>150.00").replace(
        "<paymentnumber>2", "<paymentnumber>3"
    )
    reconciler.add_batch(BatchParser(io.BytesIO(short.encode()), "b.xml"))
    reconciler.finish()
    mismatches = [e for e in found if e.reason == "batch_total_mismatch"]
    assert sorted((e.amount_minor, e.expected_minor) for e in mismatches) == [
        (3, 4),
        (13000, 12000),
    ]


def test_a_card_scheme_is_read_from_paymentsystem_or_cardtype() -> None:
    as_cardtype = SANDBOX_BATCH.replace("paymentsystem>", "cardtype>")
    for document in (SANDBOX_BATCH, as_cardtype):
        parser = BatchParser(io.BytesIO(document.encode()), "b.xml")
        assert {t.card_type for t in parser.transactions()} == {"VISA"}


def test_a_refund_that_names_no_payment_is_an_unknown_order(chart: ReconcileConfig) -> None:
    _, found = run(
        chart,
        [order_fee("A", "-1.00")],
        [transaction("A", "10.00"), transaction("RFND-x", "-2.00", kind="Refund")],
    )
    assert [(e.reason, e.order, e.line) for e in found] == [("unknown_order", "RFND-x", 13)]
    assert "no relatedvendortxcode" in found[0].detail


def _page(start: int, end: int, total: int) -> bytes:
    """One page of SANDBOX_BATCH's three transactions, as getBatchDetail pages them."""
    items = re.findall(r"<transaction>.*?</transaction>", SANDBOX_BATCH)[start - 1 : end]
    head, _, _ = SANDBOX_BATCH.partition("<transactions>")
    return (
        f"{head}<transactions><totalrows>{total}</totalrows><startrow>{start}</startrow>"
        f"<endrow>{end}</endrow>{''.join(items)}</transactions></batch></vspaccess>"
    ).encode()


def test_pages_of_one_batch_make_one_entry_in_any_order(chart: ReconcileConfig) -> None:
    found: list[ReconcileException] = []
    reconciler = Reconciler(chart, on_exception=found.append)
    reconciler.add_batch(BatchParser(io.BytesIO(_page(3, 3, 3)), "page-2.xml"))
    reconciler.add_batch(BatchParser(io.BytesIO(_page(1, 2, 3)), "page-1.xml"))
    result = reconciler.finish()
    assert not [e for e in found if e.reason in ("batch_total_mismatch", "fee_mismatch")]
    (entry,) = result.entries
    assert (entry.clearing_minor, entry.control_total_minor) == (12766, 12766)
    assert result.batch_transactions == 3
    assert result.batch_ids == ["2"]


def test_a_missing_or_repeated_page_is_caught(chart: ReconcileConfig) -> None:
    found: list[ReconcileException] = []
    reconciler = Reconciler(chart, on_exception=found.append)
    reconciler.add_batch(BatchParser(io.BytesIO(_page(1, 2, 3)), "page-1.xml"))
    with pytest.raises(
        MalformedInputError, match=r"\(rows 2-3\) was already read from page-1\.xml"
    ):
        reconciler.add_batch(BatchParser(io.BytesIO(_page(2, 3, 3)), "again.xml"))
    reconciler.finish()
    missing = [e for e in found if e.reason == "batch_total_mismatch" and "totalrows" in e.detail]
    assert len(missing) == 1
    assert "2 transactions read, totalrows says 3 (pages read: 1-2)" in missing[0].detail


def test_the_same_whole_batch_twice_is_refused(chart: ReconcileConfig) -> None:
    reconciler = Reconciler(chart)
    reconciler.add_batch(BatchParser(io.BytesIO(SANDBOX_BATCH.encode()), "one.xml"))
    with pytest.raises(MalformedInputError, match=r"already read from one\.xml"):
        reconciler.add_batch(BatchParser(io.BytesIO(SANDBOX_BATCH.encode()), "two.xml"))
