"""Status harmonisation: total over every vocabulary, precedence rules hold, docs match code."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from opayo_fba.convert.harmonise import (
    RULES,
    explain,
    fulfillment_state_from_fba,
    fulfillment_state_from_orders_v0,
    harmonise,
    order_status,
    payment_state_from_pi,
    payment_state_from_server,
    refund_state,
)
from opayo_fba.model import Money, Refund
from opayo_fba.model.status import (
    FbaFulfillmentOrderStatus,
    FulfillmentState,
    OpayoPiStatus,
    OpayoServerStatus,
    OrderStatus,
    OrdersV0Status,
    PaymentState,
    PiInstruction,
    RefundState,
    TransactionType,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "status-harmonisation.md"
P, F, R, S = PaymentState, FulfillmentState, RefundState, OrderStatus

PAYMENT_INPUTS = [
    None,
    *PaymentState,
    *OpayoPiStatus,
    *OpayoServerStatus,
]
FULFILLMENT_INPUTS = [None, *FulfillmentState, *FbaFulfillmentOrderStatus, *OrdersV0Status]


def test_every_vocabulary_combination_maps_to_an_order_status() -> None:
    count = 0
    for payment, fulfillment, refund, tx_type, instruction in itertools.product(
        PAYMENT_INPUTS,
        FULFILLMENT_INPUTS,
        RefundState,
        TransactionType,
        [None, *PiInstruction],
    ):
        status = order_status(
            payment, fulfillment, refund, transaction_type=tx_type, instruction=instruction
        )
        assert isinstance(status, OrderStatus)
        count += 1
    # (None + 9 + 7 + 8) payment inputs x (None + 10 + 9 + 8) fulfilment inputs
    # x 5 refund states x 6 transaction types x (None + 3) instructions
    assert count == 25 * 28 * 5 * 6 * 4


def test_vocabularies_are_the_documented_ones() -> None:
    assert {s.value for s in OpayoPiStatus} == {
        "Ok", "NotAuthed", "Rejected", "3DAuth", "Malformed", "Invalid", "Error",
    }  # fmt: skip
    assert {s.value for s in OpayoServerStatus} == {
        "OK", "NOTAUTHED", "ABORT", "REJECTED", "AUTHENTICATED", "REGISTERED", "ERROR", "PENDING",
    }  # fmt: skip


def test_fba_and_orders_v0_vocabularies_match_the_official_models(sp_api_models: Path) -> None:
    fba = json.loads((sp_api_models / "fulfillmentOutbound_2020-07-01.json").read_text())
    orders = json.loads((sp_api_models / "ordersV0.json").read_text())
    assert {s.value for s in FbaFulfillmentOrderStatus} == set(
        fba["definitions"]["FulfillmentOrderStatus"]["enum"]
    )
    assert {s.value for s in OrdersV0Status} == set(
        orders["definitions"]["Order"]["properties"]["OrderStatus"]["enum"]
    )


GOODS_LEFT_THE_WAREHOUSE = {
    S.FULFILMENT_PROCESSING,
    S.PARTIALLY_SHIPPED,
    S.SHIPPED,
    S.DELIVERED,
    S.RETURNED,
}


@pytest.mark.parametrize(
    ("payment", "fulfillment", "refund"),
    list(itertools.product(PaymentState, FulfillmentState, RefundState)),
)
def test_no_combination_hides_goods_or_money_that_moved_wrongly(
    payment: PaymentState, fulfillment: FulfillmentState, refund: RefundState
) -> None:
    """Safety properties stated without the rules, for every combination: whatever the
    precedence, goods are never shown as on their way on money that was not taken, a refund
    is never shown for money never captured, and a cancelled order never hides a capture."""
    status, reason = explain(payment, fulfillment, refund)
    assert harmonise(payment, fulfillment, refund) is status
    if status in GOODS_LEFT_THE_WAREHOUSE:
        # Our own orders ship on captured money; Amazon's own orders carry no payment.
        assert payment in (P.CAPTURED, P.NONE), reason
        assert refund in (R.NONE, R.PARTIAL), reason
    if status in (S.REFUNDED, S.PARTIALLY_REFUNDED, S.REFUND_PENDING):
        assert payment is P.CAPTURED, reason
    assert (status is S.REFUNDED) == (payment is P.CAPTURED and refund is R.FULL), reason
    if status is S.CANCELLED:
        assert payment is not P.CAPTURED, reason
        assert refund is R.NONE, reason
    if status is S.PAYMENT_FAILED:
        assert payment in (P.DECLINED, P.FAILED), reason
    if status is S.PAID:
        assert (payment, fulfillment, refund) == (P.CAPTURED, F.NONE, R.NONE), reason
    if fulfillment in (F.PROCESSING, F.SHIPPED, F.DELIVERED) and payment not in (
        P.CAPTURED,
        P.NONE,
    ):
        assert status is S.NEEDS_ATTENTION, reason


@pytest.mark.parametrize("fulfillment", list(FulfillmentState))
def test_refunded_beats_every_fulfilment_state(fulfillment: FulfillmentState) -> None:
    assert harmonise(P.CAPTURED, fulfillment, R.FULL) is S.REFUNDED
    in_part = S.RETURNED if fulfillment is F.RETURNED else S.PARTIALLY_REFUNDED
    assert harmonise(P.CAPTURED, fulfillment, R.PARTIAL) is in_part
    assert harmonise(P.CAPTURED, fulfillment, R.PENDING) is S.REFUND_PENDING
    assert harmonise(P.CAPTURED, fulfillment, R.FAILED) is S.NEEDS_ATTENTION


def test_goods_that_came_back_are_returned_until_refunded_in_full() -> None:
    assert harmonise(P.CAPTURED, F.RETURNED) is S.RETURNED
    assert harmonise(P.CAPTURED, F.RETURNED, R.PARTIAL) is S.RETURNED
    assert harmonise(P.CAPTURED, F.RETURNED, R.PENDING) is S.REFUND_PENDING
    assert harmonise(P.CAPTURED, F.RETURNED, R.FULL) is S.REFUNDED
    assert harmonise(P.NONE, F.RETURNED) is S.RETURNED  # an Amazon order
    assert harmonise(P.DECLINED, F.RETURNED) is S.NEEDS_ATTENTION
    assert harmonise(P.CAPTURED, F.DELIVERED) is S.DELIVERED
    assert harmonise(P.CAPTURED, F.DELIVERED, R.PARTIAL) is S.PARTIALLY_REFUNDED
    assert harmonise(P.AUTHORISED, F.DELIVERED) is S.NEEDS_ATTENTION


@pytest.mark.parametrize("payment", [p for p in PaymentState if p is not P.CAPTURED])
def test_a_refund_without_a_capture_needs_attention(payment: PaymentState) -> None:
    for refund in (R.PENDING, R.PARTIAL, R.FULL, R.FAILED):
        assert harmonise(payment, F.SHIPPED, refund) is S.NEEDS_ATTENTION


@pytest.mark.parametrize(
    "payment", [P.DECLINED, P.FAILED, P.ABORTED, P.VOIDED, P.PENDING, P.AUTHORISED]
)
@pytest.mark.parametrize("fulfillment", [F.PROCESSING, F.PARTIALLY_SHIPPED, F.SHIPPED])
def test_goods_moving_without_captured_money_needs_attention(
    payment: PaymentState, fulfillment: FulfillmentState
) -> None:
    assert harmonise(payment, fulfillment) is S.NEEDS_ATTENTION


def test_the_saga_path_reads_naturally() -> None:
    deferred = TransactionType.DEFERRED
    steps = [
        (order_status(), S.RECEIVED),
        (order_status(OpayoPiStatus.THREE_D_AUTH, transaction_type=deferred), S.PAYMENT_PENDING),
        (order_status(OpayoPiStatus.OK, transaction_type=deferred), S.PAYMENT_AUTHORISED),
        (
            order_status(
                OpayoPiStatus.OK, FbaFulfillmentOrderStatus.RECEIVED, transaction_type=deferred
            ),
            S.PAYMENT_AUTHORISED,
        ),
        (
            order_status(
                OpayoPiStatus.OK,
                FbaFulfillmentOrderStatus.RECEIVED,
                transaction_type=deferred,
                instruction=PiInstruction.RELEASE,
            ),
            S.FULFILMENT_PENDING,
        ),
        (order_status(P.CAPTURED, FbaFulfillmentOrderStatus.PROCESSING), S.FULFILMENT_PROCESSING),
        (order_status(P.CAPTURED, FbaFulfillmentOrderStatus.COMPLETE), S.SHIPPED),
        (order_status(P.CAPTURED, FbaFulfillmentOrderStatus.COMPLETE, R.FULL), S.REFUNDED),
    ]
    for actual, expected in steps:
        assert actual is expected


def test_compensation_outcomes() -> None:
    assert order_status(P.ABORTED, FbaFulfillmentOrderStatus.CANCELLED) is S.CANCELLED
    assert order_status(P.CAPTURED, FbaFulfillmentOrderStatus.CANCELLED) is S.NEEDS_ATTENTION
    assert order_status(P.CAPTURED, FbaFulfillmentOrderStatus.CANCELLED, R.FULL) is S.REFUNDED
    assert order_status(OpayoPiStatus.NOT_AUTHED, FbaFulfillmentOrderStatus.CANCELLED) is (
        S.PAYMENT_FAILED
    )
    assert order_status(OpayoServerStatus.ABORT) is S.PAYMENT_FAILED


def test_amazon_orders_follow_amazon() -> None:
    expected = {
        OrdersV0Status.PENDING: S.PAYMENT_PENDING,
        OrdersV0Status.PENDING_AVAILABILITY: S.PAYMENT_PENDING,
        OrdersV0Status.UNSHIPPED: S.FULFILMENT_PENDING,
        OrdersV0Status.PARTIALLY_SHIPPED: S.PARTIALLY_SHIPPED,
        OrdersV0Status.SHIPPED: S.SHIPPED,
        OrdersV0Status.INVOICE_UNCONFIRMED: S.SHIPPED,
        OrdersV0Status.CANCELED: S.CANCELLED,
        OrdersV0Status.UNFULFILLABLE: S.UNFULFILLABLE,
    }
    assert {status: order_status(fulfillment=status) for status in OrdersV0Status} == expected


def test_pi_and_server_mappings() -> None:
    assert payment_state_from_pi(OpayoPiStatus.OK, TransactionType.PAYMENT) is P.CAPTURED
    assert payment_state_from_pi(OpayoPiStatus.OK, TransactionType.DEFERRED) is P.AUTHORISED
    assert (
        payment_state_from_pi(OpayoPiStatus.OK, TransactionType.DEFERRED, PiInstruction.ABORT)
        is P.ABORTED
    )
    assert (
        payment_state_from_pi(OpayoPiStatus.OK, TransactionType.PAYMENT, PiInstruction.VOID)
        is P.VOIDED
    )
    # an instruction cannot turn a decline into a capture
    assert (
        payment_state_from_pi(
            OpayoPiStatus.REJECTED, TransactionType.DEFERRED, PiInstruction.RELEASE
        )
        is P.DECLINED
    )
    assert payment_state_from_server(OpayoServerStatus.OK, TransactionType.DEFERRED) is (
        P.AUTHORISED
    )
    assert payment_state_from_server(OpayoServerStatus.OK, TransactionType.TOKEN) is P.NONE
    assert payment_state_from_server(OpayoServerStatus.REGISTERED, TransactionType.PAYMENT) is (
        P.PENDING
    )
    assert fulfillment_state_from_fba(FbaFulfillmentOrderStatus.INVALID) is F.UNFULFILLABLE
    assert fulfillment_state_from_orders_v0(OrdersV0Status.INVOICE_UNCONFIRMED) is F.SHIPPED


def _refund(amount: int, status: str) -> Refund:
    return Refund.model_validate(
        {
            "order_id": "W-1",
            "vendor_tx_code": f"R-{amount}-{status}",
            "reference_transaction_id": "T-1",
            "amount": {"amount": amount, "currency": "GBP"},
            "status": status,
        }
    )


def test_refund_state_from_refunds() -> None:
    captured = Money(amount=1000, currency="GBP")
    assert refund_state([], captured) is R.NONE
    assert refund_state([_refund(400, "succeeded")], captured) is R.PARTIAL
    assert refund_state([_refund(400, "succeeded"), _refund(600, "succeeded")], captured) is R.FULL
    assert refund_state([_refund(400, "succeeded"), _refund(600, "pending")], captured) is R.PENDING
    assert refund_state([_refund(1000, "failed")], captured) is R.FAILED
    assert refund_state([_refund(1000, "failed"), _refund(1000, "succeeded")], captured) is R.FULL


def test_documented_matrix_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| **")]
    header = next(line for line in text.splitlines() if line.startswith("| payment \\"))
    columns = [cell.strip() for cell in header.strip("|").split("|")][1:]
    assert columns == [f.value for f in FulfillmentState]
    assert len(rows) == len(PaymentState)
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        payment = PaymentState(cells[0].strip("*"))
        for fulfillment, documented in zip(FulfillmentState, cells[1:], strict=True):
            assert harmonise(payment, fulfillment).value == documented, (payment, fulfillment)


def test_documented_rules_match_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    for number, (reason, _, result) in enumerate(RULES, start=1):
        assert f"{number}. {reason} -> `{result.value}`" in text


def test_transform_package_reexports_lazily() -> None:
    import opayo_fba.convert as transform

    assert sorted(transform.__all__) == sorted(transform._EXPORTS)
    for name in transform.__all__:
        assert getattr(transform, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = transform.nothing
