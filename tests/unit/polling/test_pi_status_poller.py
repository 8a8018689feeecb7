"""poll_pi_statuses with in-memory Pi clients and a moto orders table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opayo_fba.intake.payments import apply_payment_update
from opayo_fba.jobs.pi_statuses import poll_pi_statuses
from opayo_fba.model import PaymentState, PaymentTransaction
from opayo_fba.opayo.errors import OpayoAuthenticationFailed, OpayoUnavailable
from opayo_fba.store.orders import OrderRecord
from opayo_fba.store.pending_payments import PendingPaymentsStore
from tests.fixtures.saga_world import authorised_payment, make_order


def pending_payment(order_id: str, amount: int = 2500) -> PaymentTransaction:
    return PaymentTransaction.model_validate(
        {
            "provider": "pi",
            "vendor_tx_code": f"{order_id}-P1",
            "transaction_id": f"TX-{order_id}",
            "transaction_type": "Deferred",
            "status": "3DAuth",
            "state": "pending",
            "amount": {"amount": amount, "currency": "GBP"},
            "order_id": order_id,
        }
    )


@dataclass
class Body:
    raw: dict[str, Any]


@dataclass
class FakePi:
    """Pi GET /transactions/{id}: answers `statuses[id]` (default 3DAuth)."""

    statuses: dict[str, str] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    auth_broken: bool = False
    reads: list[str] = field(default_factory=list)

    def get_transaction(self, transaction_id: str) -> Body:
        self.reads.append(transaction_id)
        if self.auth_broken:
            raise OpayoAuthenticationFailed("getTransaction", 401, "1002", "check the key")
        if transaction_id in self.failing:
            raise OpayoUnavailable("getTransaction", 503, "Unavailable", "try later")
        status = self.statuses.get(transaction_id, "3DAuth")
        return Body(
            {
                "transactionId": transaction_id,
                "transactionType": "Deferred",
                "status": status,
                "statusCode": "0000" if status == "Ok" else "2000",
                "statusDetail": f"status {status}",
                "amount": {"totalAmount": 2500, "saleAmount": 2500, "surchargeAmount": 0},
                "currency": "GBP",
            }
        )


@dataclass
class FakeStarter:
    started: list[str] = field(default_factory=list)

    def start(self, order_id: str) -> bool:
        if order_id in self.started:
            return False
        self.started.append(order_id)
        return True


@pytest.fixture
def store(orders_table: Any) -> PendingPaymentsStore:
    return PendingPaymentsStore(orders_table)


def add(
    store: PendingPaymentsStore,
    order_id: str,
    payment: PaymentTransaction | None,
    vendor: str = "shop-a",
) -> None:
    store.create(
        OrderRecord(
            order=make_order(order_id), payment=payment, vendor=vendor, seller_account="uk-main"
        )
    )


def test_only_pending_pi_payments_are_found(store: PendingPaymentsStore) -> None:
    add(store, "W-1", pending_payment("W-1"))
    add(store, "W-2", authorised_payment("W-2"))
    add(store, "W-3", None)
    add(store, "W-4", pending_payment("W-4"), vendor="shop-b")
    store.park_payment(pending_payment("W-9"))
    assert sorted(r.order_id for r in store.pending_pi_payments()) == ["W-1", "W-4"]
    assert [r.order_id for r in store.pending_pi_payments("shop-b")] == ["W-4"]


def test_a_decided_payment_is_applied_once_and_starts_the_saga(
    store: PendingPaymentsStore,
) -> None:
    add(store, "W-1", pending_payment("W-1"))
    add(store, "W-2", pending_payment("W-2"))
    pi, starter = FakePi(statuses={"TX-W-1": "Ok"}), FakeStarter()
    result = poll_pi_statuses(store, {"shop-a": pi}, starter)
    assert (result.checked, result.applied, result.still_pending) == (2, 1, 1)
    assert result.sagas_started == 1
    assert starter.started == ["W-1"]
    record = store.get("W-1")
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED
    assert record.payment.vendor_tx_code == "W-1-P1"
    still = store.get("W-2")
    assert still.payment is not None
    assert still.payment.state is PaymentState.PENDING
    # The next run reads only what is still pending.
    pi.reads.clear()
    again = poll_pi_statuses(store, {"shop-a": pi}, starter)
    assert pi.reads == ["TX-W-2"]
    assert again.sagas_started == 0


def test_a_declined_payment_is_applied_and_the_saga_decides_what_follows(
    store: PendingPaymentsStore,
) -> None:
    add(store, "W-1", pending_payment("W-1"))
    starter = FakeStarter()
    result = poll_pi_statuses(store, {"shop-a": FakePi(statuses={"TX-W-1": "Rejected"})}, starter)
    assert result.applied == 1
    record = store.get("W-1")
    assert record.payment is not None
    assert record.payment.state is PaymentState.DECLINED
    assert starter.started == ["W-1"]


def test_one_unreadable_transaction_does_not_stop_the_others(
    store: PendingPaymentsStore,
) -> None:
    add(store, "W-1", pending_payment("W-1"))
    add(store, "W-2", pending_payment("W-2"))
    pi = FakePi(statuses={"TX-W-2": "Ok"}, failing={"TX-W-1"})
    result = poll_pi_statuses(store, {"shop-a": pi}, FakeStarter())
    assert [f.order_id for f in result.failures] == ["W-1"]
    assert "OpayoUnavailable" in result.failures[0].reason
    assert result.applied == 1


def test_a_wrong_integration_key_stops_the_run(store: PendingPaymentsStore) -> None:
    add(store, "W-1", pending_payment("W-1"))
    with pytest.raises(OpayoAuthenticationFailed):
        poll_pi_statuses(store, {"shop-a": FakePi(auth_broken=True)}, FakeStarter())
    record = store.get("W-1")
    assert record.payment is not None
    assert record.payment.state is PaymentState.PENDING


def test_orders_of_a_vendor_without_a_client_are_skipped(store: PendingPaymentsStore) -> None:
    add(store, "W-1", pending_payment("W-1"))
    add(store, "X-1", pending_payment("X-1"), vendor="shop-c")
    pi = FakePi()
    result = poll_pi_statuses(store, {"shop-a": pi, "shop-b": FakePi()}, FakeStarter())
    assert pi.reads == ["TX-W-1"]
    assert result.skipped_no_client == ("X-1",)


def test_a_run_reads_at_most_limit_transactions(store: PendingPaymentsStore) -> None:
    for number in range(3):
        add(store, f"W-{number}", pending_payment(f"W-{number}"))
    pi = FakePi()
    result = poll_pi_statuses(store, {"shop-a": pi}, FakeStarter(), limit=2)
    assert result.checked == 2
    assert len(pi.reads) == 2


def test_a_payment_pending_for_longer_than_give_up_after_is_listed_not_read(
    store: PendingPaymentsStore,
) -> None:
    add(store, "W-1", pending_payment("W-1"))  # placed 2026-11-28T10:15:00Z
    pi = FakePi()
    placed = datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
    fresh = poll_pi_statuses(store, {"shop-a": pi}, FakeStarter(), now=placed + timedelta(hours=2))
    assert (fresh.checked, fresh.abandoned) == (1, ())
    stale = poll_pi_statuses(store, {"shop-a": pi}, FakeStarter(), now=placed + timedelta(days=2))
    assert (stale.checked, stale.abandoned) == (0, ("W-1",))
    assert pi.reads == ["TX-W-1"]


@dataclass
class FakeQueue:
    sent: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)

    def send(self, body: str, group_id: str, deduplication_id: str) -> None:
        self.sent.append((json.loads(body), group_id, deduplication_id))


def test_with_a_queue_a_decided_payment_goes_to_the_payment_events_queue_not_the_table(
    store: PendingPaymentsStore,
) -> None:
    add(store, "W-1", pending_payment("W-1"))
    add(store, "W-2", pending_payment("W-2"))
    queue, pi = FakeQueue(), FakePi(statuses={"TX-W-1": "Ok"})
    result = poll_pi_statuses(store, {"shop-a": pi}, None, queue=queue)
    assert (result.applied, result.still_pending, result.sagas_started) == (1, 1, 0)
    [(event, group, dedup)] = queue.sent
    assert (event["event_id"], event["vendor"], event["source"]) == (
        "TX-W-1:Ok",
        "shop-a",
        "opayo-pi-poll",
    )
    assert group == "W-1-P1"
    assert len(dedup) == 64
    # Nothing was written: the consumer applies it, exactly as it applies a notification.
    unchanged = store.get("W-1")
    assert unchanged.payment is not None
    assert unchanged.payment.state is PaymentState.PENDING
    starter = FakeStarter()
    applied = apply_payment_update(
        store, starter, PaymentTransaction.model_validate(event["payment"])
    )
    assert (applied.outcome, starter.started) == ("applied", ["W-1"])


def test_a_starter_or_a_queue_is_required(store: PendingPaymentsStore) -> None:
    with pytest.raises(ValueError, match="either a starter"):
        poll_pi_statuses(store, {"shop-a": FakePi()}, None)
    with pytest.raises(ValueError, match="either a starter"):
        poll_pi_statuses(store, {"shop-a": FakePi()}, FakeStarter(), queue=FakeQueue())
