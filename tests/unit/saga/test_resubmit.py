"""Resubmitting an order Amazon could not fulfil: the money comes from what Opayo holds (the
Deferred still held, or a Repeat once the first was given back), a new fulfillment order id,
and every failure after the new charge ends in a refund of that charge alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from opayo_fba.errors import ConflictError
from opayo_fba.model import PaymentState, TransactionType
from opayo_fba.saga import steps
from opayo_fba.saga.errors import CaptureFailed, FulfillmentRejected, UpstreamError
from opayo_fba.saga.recovery import recover_execution
from opayo_fba.saga.resubmit import (
    MAX_ATTEMPTS,
    ResubmitRequest,
    parse_resubmit_request,
    repeat_vendor_tx_code,
    resubmit_order,
)
from opayo_fba.saga.starter import execution_name
from tests.fixtures.saga_world import World, authorised_payment, make_order

ORDER = "W-1001"


@dataclass
class FakeStarter:
    started: list[tuple[str, int]] = field(default_factory=list)

    def start(self, order_id: str, attempt: int = 1) -> bool:
        if (order_id, attempt) in self.started:
            return False
        self.started.append((order_id, attempt))
        return True


def _request(resubmit_id: str = "RS-1") -> ResubmitRequest:
    return ResubmitRequest(resubmitId=resubmit_id)


def _rejected_for_stock(world: World, *, payment: str = "Deferred") -> None:
    """The saga as the state machine runs it when Amazon has no stock: FulfillmentRejected,
    then the FulfillmentRejected branch's compensation and outcome."""
    record = authorised_payment(ORDER)
    if payment == "Payment":
        record = record.model_copy(
            update={"transaction_type": TransactionType.PAYMENT, "state": PaymentState.CAPTURED}
        )
        world.opayo.payments["TX-W-1001"] = 2500
    world.add_order(make_order(), record)
    world.amazon.out_of_stock = True
    state: dict[str, Any] = steps.validate_and_map({"orderId": ORDER}, world.deps)
    with pytest.raises(FulfillmentRejected):
        steps.create_fulfillment_order(state, world.deps)
    _compensate(world, "fulfillment_rejected")


def _compensate(world: World, outcome: str) -> dict[str, Any]:
    state = {"orderId": ORDER, "compensationReason": {"outcome": outcome}}
    done = steps.abort_payment(state, world.deps)
    steps.record_outcome(state, world.deps)
    return done


def _run(world: World) -> dict[str, Any]:
    state: dict[str, Any] = {"orderId": ORDER}
    state = steps.validate_and_map(state, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    state = steps.capture_payment(state, world.deps)
    return steps.release_fulfillment_order(state, world.deps)


def test_a_held_deferred_is_captured_by_the_resubmitted_order(world: World) -> None:
    world.deps.unfulfillable_authorisations = "hold"
    _rejected_for_stock(world)
    assert world.opayo.aborts == []  # kept for the resubmission
    held = world.store.get(ORDER)
    assert held.outcome == "fulfillment_rejected"
    assert held.held_since() is not None  # the held-authorisations check still watches it

    starter = FakeStarter()
    world.amazon.out_of_stock = False
    reply = resubmit_order(world.deps, starter, ORDER, _request())
    assert reply.created
    assert reply.money == "held authorisation"
    assert starter.started == [(ORDER, 2)]
    record = world.store.get(ORDER)
    assert record.attempt == 2
    assert record.outcome is None
    assert [a.attempt for a in record.previous_attempts] == [1]
    assert record.previous_attempts[0].outcome == "fulfillment_rejected"

    state = _run(world)
    sfo = str(state["sellerFulfillmentOrderId"])
    assert sfo != ORDER
    assert sfo.startswith("W-1001-A2-")
    assert world.amazon.releases == [sfo]
    assert world.opayo.releases == [("TX-W-1001", 2500)]  # the same Deferred, captured once
    assert world.opayo.repeats == {}
    published = [d for kind, d in world.events.published if kind == "OrderResubmitted"]
    assert published[0]["attempt"] == 2
    assert published[0]["sellerFulfillmentOrderId"] == sfo


def test_the_same_resubmit_id_is_the_same_resubmission(world: World) -> None:
    world.deps.unfulfillable_authorisations = "hold"
    _rejected_for_stock(world)
    world.amazon.out_of_stock = False
    starter = FakeStarter()
    resubmit_order(world.deps, starter, ORDER, _request("RS-1"))
    again = resubmit_order(world.deps, starter, ORDER, _request("RS-1"))
    assert not again.created
    assert again.record.attempt == 2
    assert starter.started == [(ORDER, 2)]
    with pytest.raises(ConflictError, match="only an order Amazon could not fulfil"):
        resubmit_order(world.deps, starter, ORDER, _request("RS-2"))  # attempt 2 is running


def test_an_order_still_out_of_stock_is_refused_and_nothing_changes(world: World) -> None:
    world.deps.unfulfillable_authorisations = "hold"
    _rejected_for_stock(world)
    before = world.store.get(ORDER)
    with pytest.raises(ConflictError, match="cannot fulfil"):
        resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    after = world.store.get(ORDER)
    assert after.version == before.version
    assert after.attempt == 1


def test_an_aborted_deferred_needs_the_shopper(world: World) -> None:
    _rejected_for_stock(world)  # the default: the authorisation is aborted at once
    assert world.opayo.aborts == ["TX-W-1001"]
    world.amazon.out_of_stock = False
    with pytest.raises(ConflictError, match="new payment from the shopper"):
        resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    assert world.store.get(ORDER).attempt == 1


def test_a_refunded_payment_is_charged_again_by_a_repeat_after_amazon_accepts(
    world: World,
) -> None:
    _rejected_for_stock(world, payment="Payment")
    assert [(t, a) for t, a, _ in world.opayo.refunds] == [("TX-W-1001", 2500)]
    world.amazon.out_of_stock = False
    reply = resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    assert reply.money == "repeat"
    code = repeat_vendor_tx_code(ORDER, 2)
    assert world.opayo.repeats == {}  # nothing is charged before Amazon accepts the order

    _run(world)
    assert world.opayo.repeats == {code: ("TX-W-1001", 2500)}
    record = world.store.get(ORDER)
    assert record.payment is not None
    assert record.payment.transaction_type is TransactionType.REPEAT
    assert record.payment.vendor_tx_code == code
    assert record.captured is not None
    assert record.captured.amount == 2500
    assert record.previous_attempts[0].refunds[0].amount.amount == 2500

    # A refund of the new attempt has its own vendorTxCode, never one of attempt 1.
    world.amazon.set_status(record.fulfillment_request["sellerFulfillmentOrderId"], "Complete")  # type: ignore[index]
    _compensate(world, "release_failed")
    refunds = world.store.get(ORDER).refunds
    assert refunds[0].vendor_tx_code == f"RFND-{ORDER}-A2-R1"
    assert refunds[0].reference_transaction_id == f"RP-{code}"
    assert [(t, a) for t, a, _ in world.opayo.refunds] == [
        ("TX-W-1001", 2500),
        (f"RP-{code}", 2500),
    ]


def test_a_declined_repeat_ships_nothing_and_refunds_nothing_again(world: World) -> None:
    _rejected_for_stock(world, payment="Payment")
    world.amazon.out_of_stock = False
    resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    world.opayo.decline_repeats = True
    state: dict[str, Any] = steps.validate_and_map({"orderId": ORDER}, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    with pytest.raises(CaptureFailed, match="declined"):
        steps.capture_payment(state, world.deps)
    done = _compensate(world, "capture_failed")
    assert done["action"] == "none"
    assert len(world.opayo.refunds) == 1  # only attempt 1's refund, never a second


def test_a_repeat_whose_answer_was_lost_is_found_and_refunded_by_the_compensation(
    world: World,
) -> None:
    _rejected_for_stock(world, payment="Payment")
    world.amazon.out_of_stock = False
    resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    code = repeat_vendor_tx_code(ORDER, 2)
    world.opayo.lose_next_repeat_response = True
    state: dict[str, Any] = steps.validate_and_map({"orderId": ORDER}, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    with pytest.raises(UpstreamError):
        steps.capture_payment(state, world.deps)  # the Repeat landed; its answer did not
    done = _compensate(world, "capture_failed")
    assert done["action"] == "refunded"
    assert [(t, a) for t, a, _ in world.opayo.refunds] == [
        ("TX-W-1001", 2500),
        (f"RP-{code}", 2500),
    ]
    record = world.store.get(ORDER)
    assert record.repeat_charge is not None
    assert record.repeat_charge.status == "cancelled"
    # A late capture of the same attempt finds it given up and charges nothing more.
    with pytest.raises(CaptureFailed):
        steps.capture_payment(state, world.deps)
    assert len(world.opayo.repeats) == 1


def test_a_repeat_never_made_leaves_nothing_to_settle(world: World) -> None:
    _rejected_for_stock(world, payment="Payment")
    world.amazon.out_of_stock = False
    resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    world.amazon.out_of_stock = True  # sold out again before the saga's own preview
    state: dict[str, Any] = steps.validate_and_map({"orderId": ORDER}, world.deps)
    with pytest.raises(FulfillmentRejected):
        steps.create_fulfillment_order(state, world.deps)
    done = _compensate(world, "fulfillment_rejected")
    assert done == {"found": "no repeat at Opayo", "action": "none"}
    assert world.opayo.repeats == {}
    assert len(world.opayo.refunds) == 1
    # ... and it can be resubmitted again, as attempt 3, charged by a new Repeat.
    world.amazon.out_of_stock = False
    reply = resubmit_order(world.deps, FakeStarter(), ORDER, _request("RS-2"))
    assert reply.record.attempt == 3
    assert reply.record.repeat_charge is not None
    assert reply.record.repeat_charge.vendor_tx_code == repeat_vendor_tx_code(ORDER, 3)
    with pytest.raises(ConflictError, match="attempt 2"):
        resubmit_order(world.deps, FakeStarter(), ORDER, _request("RS-1"))


def test_orders_that_did_not_end_unfulfillable_are_refused(world: World) -> None:
    world.add_order(make_order(), authorised_payment(ORDER))
    with pytest.raises(ConflictError, match="has not ended"):
        resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    steps.record_outcome(
        {"orderId": ORDER, "compensationReason": {"outcome": "payment_declined"}}, world.deps
    )
    with pytest.raises(ConflictError, match="ended as payment_declined"):
        resubmit_order(world.deps, FakeStarter(), ORDER, _request())


def test_an_order_is_tried_a_bounded_number_of_times(world: World) -> None:
    world.deps.unfulfillable_authorisations = "hold"
    _rejected_for_stock(world)
    world.store.update(ORDER, lambda r: setattr(r, "attempt", MAX_ATTEMPTS))
    world.amazon.out_of_stock = False
    with pytest.raises(ConflictError, match="take a new order"):
        resubmit_order(world.deps, FakeStarter(), ORDER, _request())


def test_the_recovery_leaves_an_earlier_attempts_execution_alone(world: World) -> None:
    world.deps.unfulfillable_authorisations = "hold"
    _rejected_for_stock(world)
    world.amazon.out_of_stock = False
    resubmit_order(world.deps, FakeStarter(), ORDER, _request())
    event = {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": f"arn:aws:states:eu-west-2:1:execution:saga:{execution_name(ORDER)}",
            "status": "TIMED_OUT",
            "input": '{"orderId": "W-1001"}',
        },
    }
    assert recover_execution(event, world.deps)["reason"] == "attempt 1 ended"
    assert world.opayo.aborts == []


def test_execution_names_and_request_bodies() -> None:
    assert execution_name(ORDER) == ORDER
    second = execution_name(ORDER, 2)
    assert second != ORDER
    assert second != execution_name(ORDER, 3)
    assert len(second) <= 80
    assert second != execution_name("W-1001-A2")  # no plain order id can take it
    assert parse_resubmit_request('{"resubmitId": "RS-1"}').resubmit_id == "RS-1"
    for bad in ('{"resubmitId": ""}', '{"resubmitId": "x", "more": 1}', "[]", "{"):
        with pytest.raises(ValidationError):
            parse_resubmit_request(bad)
    assert len(repeat_vendor_tx_code("X" * 60, 2)) <= 40
