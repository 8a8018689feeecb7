"""`POST /orders/{id}/refunds` in the domain: idempotent on refundId, never beyond the capture."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from opayo_fba.errors import ConflictError, InvalidInputError
from opayo_fba.model import Money
from opayo_fba.refunds.requests import parse_refund_request, reply_body, request_refund
from opayo_fba.saga import steps
from tests.fixtures.saga_world import World, authorised_payment, make_order


def _captured(world: World, order_id: str = "W-1001") -> None:
    world.add_order(make_order(order_id), authorised_payment(order_id))
    state = steps.validate_and_map({"orderId": order_id}, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    steps.capture_payment(state, world.deps)


def _request(**fields: object) -> str:
    return json.dumps({"refundId": "RF-1", "reason": "damaged in transit", **fields})


def test_a_line_refund_is_made_once_and_a_repeat_returns_it(world: World) -> None:
    _captured(world)
    request = parse_refund_request(_request(lines=[{"lineId": "1", "quantity": 1}]))

    first = request_refund(world.deps, "W-1001", request)
    again = request_refund(world.deps, "W-1001", request)

    assert first.refund.status == "succeeded"
    assert first.created
    assert first.refund.amount == Money(amount=1250, currency="GBP")  # one of two units
    assert reply_body(first)[0] == 201
    assert not again.created
    assert reply_body(again)[0] == 200
    assert [(r[0], r[1]) for r in world.opayo.refunds] == [("TX-W-1001", 1250)]
    issued = [d for kind, d in world.events.published if kind == "RefundIssued"]
    assert [(d["refundId"], d["kind"], d["amount"]) for d in issued] == [("RF-1", "merchant", 1250)]


def test_a_refund_beyond_what_is_left_is_refused_and_changes_nothing(world: World) -> None:
    _captured(world)
    request_refund(
        world.deps,
        "W-1001",
        parse_refund_request(_request(lines=[{"lineId": "1", "quantity": 1}])),
    )
    before = world.store.get("W-1001")

    with pytest.raises(ConflictError, match="exceeds what can still be refunded"):
        request_refund(
            world.deps,
            "W-1001",
            parse_refund_request(
                _request(refundId="RF-2", amount={"amount": 1251, "currency": "GBP"})
            ),
        )
    with pytest.raises(ConflictError, match="1 of its 2 units left"):
        request_refund(
            world.deps,
            "W-1001",
            parse_refund_request(_request(refundId="RF-3", lines=[{"lineId": "1", "quantity": 2}])),
        )

    after = world.store.get("W-1001")
    assert after.refunds == before.refunds
    assert after.version == before.version
    assert len(world.opayo.refunds) == 1


def test_a_refund_id_reused_for_another_refund_is_a_conflict(world: World) -> None:
    _captured(world)
    request_refund(
        world.deps,
        "W-1001",
        parse_refund_request(_request(amount={"amount": 100, "currency": "GBP"})),
    )
    with pytest.raises(ConflictError, match="already used"):
        request_refund(
            world.deps,
            "W-1001",
            parse_refund_request(_request(amount={"amount": 200, "currency": "GBP"})),
        )


def test_an_order_not_captured_has_nothing_to_refund(world: World) -> None:
    world.add_order(make_order("W-1001"), authorised_payment("W-1001"))
    with pytest.raises(ConflictError, match="no captured payment"):
        request_refund(
            world.deps,
            "W-1001",
            parse_refund_request(_request(amount={"amount": 100, "currency": "GBP"})),
        )
    assert world.store.get("W-1001").refunds == []


def test_a_lost_answer_leaves_the_refund_pending_and_the_repeat_sends_it_once(world: World) -> None:
    _captured(world)
    world.opayo.lose_next_refund_response = True
    request = parse_refund_request(_request(amount={"amount": 700, "currency": "GBP"}))

    before = datetime.now(UTC)
    first = request_refund(world.deps, "W-1001", request)
    after = datetime.now(UTC)
    assert first.refund.status == "pending"
    assert reply_body(first)[0] == 202
    record = world.store.get("W-1001")
    since = record.refund_pending_since()
    assert since is not None
    assert before <= since <= after  # written down when it was sent, not when the order was placed

    again = request_refund(world.deps, "W-1001", request)
    assert again.refund.status == "succeeded"
    assert len(world.opayo.refunds) == 1  # the fake, as Opayo, refunds one refund id once
    assert world.store.get("W-1001").refund_pending_since() is None


def test_a_pending_refund_is_carried_out_by_a_compensation_before_the_remainder(
    world: World,
) -> None:
    _captured(world)
    world.opayo.lose_next_refund_response = True
    request_refund(
        world.deps,
        "W-1001",
        parse_refund_request(_request(amount={"amount": 700, "currency": "GBP"})),
    )

    steps.refund_payment({"orderId": "W-1001", "compensationReason": {"outcome": "x"}}, world.deps)

    assert sorted(r[1] for r in world.opayo.refunds) == [700, 1800]
    record = world.store.get("W-1001")
    assert [r.status for r in record.refunds] == ["succeeded", "succeeded"]
    assert record.refunded == Money(amount=2500, currency="GBP")


def test_a_refused_earlier_refund_does_not_stop_a_compensation_refunding_everything(
    world: World,
) -> None:
    _captured(world)
    world.opayo.lose_next_refund_response = True
    request_refund(
        world.deps,
        "W-1001",
        parse_refund_request(_request(amount={"amount": 700, "currency": "GBP"})),
    )
    world.opayo.refunds.clear()  # Opayo never made it (the answer lost was a refusal)
    world.opayo.refuse_next_refund = True

    steps.refund_payment({"orderId": "W-1001", "compensationReason": {"outcome": "x"}}, world.deps)

    record = world.store.get("W-1001")
    assert [r.status for r in record.refunds] == ["failed", "succeeded"]
    assert [r[1] for r in world.opayo.refunds] == [2500]
    assert record.refunded == Money(amount=2500, currency="GBP")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_request(), "give either amount or lines"),
        (
            _request(
                amount={"amount": 1, "currency": "GBP"}, lines=[{"lineId": "1", "quantity": 1}]
            ),
            "not both",
        ),
        (_request(refundId="has space", amount={"amount": 1, "currency": "GBP"}), "refundId"),
        (_request(amount={"amount": 0, "currency": "GBP"}), "positive"),
        (_request(lines=[{"lineId": "1", "quantity": 0}]), "quantity"),
    ],
)
def test_bad_requests_name_what_is_wrong(body: str, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        parse_refund_request(body)


def test_a_card_number_in_the_reason_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_refund_request(
            _request(reason="card 4929000000006", amount={"amount": 1, "currency": "GBP"})
        )
    assert "4929000000006" not in str(caught.value)
