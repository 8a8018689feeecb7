"""The saga's steps against in-memory Amazon and Opayo, with the orders table in moto."""

from __future__ import annotations

import json

import pytest

from opayo_fba.model import OrderStatus, PaymentState
from opayo_fba.saga import steps
from opayo_fba.saga.errors import (
    CaptureFailed,
    FulfillmentRejected,
    MerchantCancelled,
    PaymentDeclined,
    ThrottledError,
)
from tests.fixtures.saga_world import World, authorised_payment, make_order


def _through_release(world: World, order_id: str = "W-1001") -> dict[str, object]:
    state: dict[str, object] = {"orderId": order_id}
    state = steps.validate_and_map(state, world.deps)
    state = steps.create_fulfillment_order(state, world.deps)
    state = steps.capture_payment(state, world.deps)
    return steps.release_fulfillment_order(state, world.deps)


def test_happy_path_captures_once_and_ships(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    state = _through_release(world)
    assert state["sellerFulfillmentOrderId"] == "W-1001"
    assert world.opayo.releases == [("TX-W-1001", 2500)]
    assert world.amazon.releases == ["W-1001"]
    assert steps.check_fulfillment_status(state, world.deps)["status"] == "Received"

    world.amazon.set_status("W-1001", "Complete")
    assert steps.check_fulfillment_status(state, world.deps)["status"] == "Complete"
    steps.mark_shipped(state, world.deps)
    record = world.store.get("W-1001")
    assert record.status is OrderStatus.SHIPPED
    assert record.captured is not None
    assert record.captured.amount == 2500
    kinds = [kind for kind, _ in world.events.published]
    assert kinds.count("PaymentCaptured") == 1
    assert "OrderStatusChanged" in kinds


def test_every_step_run_twice_changes_nothing_more(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    state = _through_release(world)
    _through_release(world)  # a Step Functions retry of everything
    steps.capture_payment(state, world.deps)
    assert world.opayo.releases == [("TX-W-1001", 2500)]  # nothing charged twice
    assert len(world.amazon.orders) == 1


def test_declined_payment_stops_before_amazon(world: World) -> None:
    declined = authorised_payment("W-1001").model_copy(
        update={"state": PaymentState.DECLINED, "status": "NotAuthed"}
    )
    world.add_order(make_order(), declined)
    with pytest.raises(PaymentDeclined, match="declined"):
        steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    assert world.amazon.creates == 0
    steps.record_outcome(
        {"orderId": "W-1001", "compensationReason": {"outcome": "payment_declined"}}, world.deps
    )
    record = world.store.get("W-1001")
    assert (record.outcome, record.status) == ("payment_declined", OrderStatus.PAYMENT_FAILED)


def test_unfulfillable_order_is_rejected_and_payment_aborted(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    world.amazon.status_after_create = "Unfulfillable"
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    with pytest.raises(FulfillmentRejected, match="Unfulfillable"):
        steps.create_fulfillment_order(state, world.deps)
    assert steps.abort_payment(state, world.deps) == {"found": "authorised", "action": "aborted"}
    # Once only: Opayo now says aborted, so nothing more is sent.
    assert steps.abort_payment(state, world.deps) == {"found": "aborted", "action": "none"}
    assert world.opayo.aborts == ["TX-W-1001"]
    assert world.opayo.releases == []


def test_amazon_400_becomes_fulfillment_rejected(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    world.amazon.reject_next = True
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    with pytest.raises(FulfillmentRejected, match="refused"):
        steps.create_fulfillment_order(state, world.deps)


def test_throttling_becomes_the_name_the_state_machine_retries(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    world.amazon.throttle_next = True
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    with pytest.raises(ThrottledError):
        steps.create_fulfillment_order(state, world.deps)
    steps.create_fulfillment_order(state, world.deps)  # the retry succeeds
    assert world.amazon.creates == 1


def test_capture_refused_then_fulfillment_cancelled(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    world.opayo.refuse_release = True
    state = steps.create_fulfillment_order(
        steps.validate_and_map({"orderId": "W-1001"}, world.deps), world.deps
    )
    with pytest.raises(CaptureFailed, match="refused"):
        steps.capture_payment(state, world.deps)
    assert steps.cancel_fulfillment_order(state, world.deps) == {
        "found": "Received",
        "action": "cancelled",
    }
    assert steps.cancel_fulfillment_order(state, world.deps)["action"] == "none"
    assert world.amazon.cancels == ["W-1001"]


def test_capture_never_exceeds_the_authorisation(world: World) -> None:
    world.add_order(make_order(total=9999), authorised_payment("W-1001", amount=2500))
    state = steps.create_fulfillment_order(
        steps.validate_and_map({"orderId": "W-1001"}, world.deps), world.deps
    )
    with pytest.raises(CaptureFailed, match="exceeds the authorised"):
        steps.capture_payment(state, world.deps)
    assert world.opayo.releases == []


def test_merchant_cancellation_before_and_after_capture(world: World) -> None:
    world.add_order(make_order("A"), authorised_payment("A"))
    state = steps.create_fulfillment_order(
        steps.validate_and_map({"orderId": "A"}, world.deps), world.deps
    )
    world.store.update("A", lambda r: setattr(r, "cancel_requested", True))
    with pytest.raises(MerchantCancelled):
        steps.capture_payment(state, world.deps)

    world.add_order(make_order("B"), authorised_payment("B"))
    state_b = _through_release(world, "B")
    world.store.update("B", lambda r: setattr(r, "cancel_requested", True))
    assert steps.check_fulfillment_status(state_b, world.deps) == {"status": "MerchantCancelled"}
    steps.cancel_fulfillment_order(state_b, world.deps)
    assert steps.refund_payment(state_b, world.deps)["action"] == "refunded"
    record = world.store.get("B")
    assert record.status is OrderStatus.REFUNDED
    assert [r[1] for r in world.opayo.refunds] == [2500]


def test_refund_whose_response_was_lost_is_not_issued_twice(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    state = _through_release(world)
    world.opayo.lose_next_refund_response = True
    with pytest.raises(Exception, match="response lost"):
        steps.refund_payment(state, world.deps)
    pending = world.store.get("W-1001").refunds
    assert [r.status for r in pending] == ["pending"]
    assert steps.refund_payment(state, world.deps)["action"] == "refunded"
    # The retry reused the same refund id, so Opayo saw one refund.
    assert len(world.opayo.refunds) == 1
    assert steps.refund_payment(state, world.deps) == {
        "found": "captured",
        "action": "none",
        "reason": "already refunded in full",
    }


def test_out_of_stock_is_rejected_before_anything_is_created_or_captured(world: World) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    world.amazon.out_of_stock = True
    state = steps.validate_and_map({"orderId": "W-1001"}, world.deps)
    with pytest.raises(FulfillmentRejected, match="cannot fulfil W-1001"):
        steps.create_fulfillment_order(state, world.deps)
    assert world.amazon.creates == 0
    assert steps.abort_payment(state, world.deps)["action"] == "aborted"
    assert world.opayo.releases == []


def test_the_waiting_saga_is_resumed_by_a_notification_or_a_cancellation(world: World) -> None:
    from opayo_fba.intake.amazon_events import handle_amazon_notification
    from opayo_fba.intake.cancellation import request_cancellation

    world.add_order(make_order(), authorised_payment("W-1001"))
    state = _through_release(world)
    assert steps.await_fulfillment_update({**state, "taskToken": "T1"}, world.deps) == {
        "waiting": True
    }
    assert world.resumer.resumed == []
    notification = {
        "NotificationType": "FULFILLMENT_ORDER_STATUS",
        "Payload": {
            "FulfillmentOrderStatusNotification": {
                "SellerFulfillmentOrderId": "W-1001",
                "FulfillmentOrderStatus": "COMPLETE",
                "StatusUpdatedDateTime": "2030-01-01T00:00:00Z",
            }
        },
        "NotificationMetadata": {"NotificationId": "n-1"},
    }
    handle_amazon_notification(notification, world.store, world.resumer)
    handle_amazon_notification(notification, world.store, world.resumer)  # a duplicate
    assert world.resumer.resumed == [("T1", {"status": "Complete"})]
    assert world.store.get("W-1001").saga_task_token is None

    # A cancellation resumes a waiting saga at once; an order already decided resumes itself.
    world.add_order(make_order("B"), authorised_payment("B"))
    state_b = _through_release(world, "B")
    steps.await_fulfillment_update({**state_b, "taskToken": "T2"}, world.deps)
    request_cancellation(
        world.store, "B", "changed mind", world.resumer, amazon=lambda account: world.amazon
    )
    assert world.resumer.resumed[-1] == ("T2", {"status": "MerchantCancelled"})
    steps.await_fulfillment_update({**state_b, "taskToken": "T3"}, world.deps)
    assert world.resumer.resumed[-1] == ("T3", {"status": "MerchantCancelled"})
    assert "T3" not in json.dumps(world.store.get("B").public_view())


def test_a_recorded_compensation_is_counted_for_the_dashboard(world: World) -> None:
    from opayo_fba.observability import metrics

    world.add_order(make_order(), authorised_payment("W-1001"))
    metrics.clear_metrics()
    steps.record_outcome(
        {"orderId": "W-1001", "compensationReason": {"outcome": "capture_failed"}}, world.deps
    )
    assert metrics.metric_set["SagaCompensated"]["Value"] == [1.0]
    assert "OrdersUnfulfillable" not in metrics.metric_set
    metrics.clear_metrics()


@pytest.mark.parametrize("outcome", ["fulfillment_rejected", "fulfillment_lost"])
def test_an_order_amazon_cannot_fulfil_alarms(world: World, outcome: str) -> None:
    from opayo_fba.observability import metrics

    world.add_order(make_order(), authorised_payment("W-1001"))
    metrics.clear_metrics()
    steps.record_outcome(
        {"orderId": "W-1001", "compensationReason": {"outcome": outcome}}, world.deps
    )
    assert metrics.metric_set["OrdersUnfulfillable"]["Value"] == [1.0]
    metrics.clear_metrics()


def _account_counts(printed: str) -> dict[tuple[str, str], float]:
    """The per-account EMF lines printed (single_metric), by (metric, sellerAccount)."""
    counts: dict[tuple[str, str], float] = {}
    for line in printed.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            if {"service", "sellerAccount"} not in [set(d) for d in directive["Dimensions"]]:
                continue
            for metric in directive["Metrics"]:
                key = (metric["Name"], document["sellerAccount"])
                counts[key] = counts.get(key, 0) + sum(document[metric["Name"]])
    return counts


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("capture_failed", {"AccountOrdersCompensated"}),
        ("payment_declined", {"AccountOrdersCompensated", "AccountPaymentsDeclined"}),
        ("fulfillment_rejected", {"AccountOrdersCompensated", "AccountOrdersUnfulfillable"}),
    ],
)
def test_outcomes_are_counted_per_seller_account(
    world: World, outcome: str, expected: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    world.add_order(make_order(), authorised_payment("W-1001"))
    capsys.readouterr()
    steps.record_outcome(
        {"orderId": "W-1001", "compensationReason": {"outcome": outcome}}, world.deps
    )
    counts = _account_counts(capsys.readouterr().out)
    assert counts == {(name, "uk-main"): 1.0 for name in expected}


def test_a_per_account_count_is_published_even_without_a_namespace_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from opayo_fba.observability import account_metric

    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    capsys.readouterr()
    account_metric("AccountOrdersReceived", "eu-main")
    printed = capsys.readouterr().out
    assert _account_counts(printed) == {("AccountOrdersReceived", "eu-main"): 1.0}
    assert '"Namespace":"OpayoFba"' in printed
