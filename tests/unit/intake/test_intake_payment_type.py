"""The payment type the shop declares with its order: a Server `txType` (DEFERRED or
PAYMENT) is the registered fact every notification is held to, and a `pi_transaction` may be
a Deferred or a Payment (already captured), nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from opayo_fba.api.errors import error_reply
from opayo_fba.errors import InvalidInputError
from opayo_fba.intake.orders import OrderSubmission, parse_submission, submit_order
from opayo_fba.intake.payments import apply_payment_update
from opayo_fba.intake.webhook import handle_server_notification
from opayo_fba.model import OrderStatus, PaymentState, PaymentTransaction, TransactionType
from opayo_fba.opayo.results import PiTransaction
from tests.fixtures.saga_world import World, make_order
from tests.unit.intake.test_intake import (
    SECURITY_KEY,
    VPS_TX_ID,
    FakePi,
    FakeQueue,
    FakeStarter,
    _intake,
    _notification,
    unseal,
)


def _document(**payment: Any) -> dict[str, Any]:
    return {
        "order": make_order("W-1001").model_dump(mode="json"),
        "vendor": "sandbox",
        "sellerAccount": "uk-main",
        "payment": payment,
    }


def _server(**extra: Any) -> dict[str, Any]:
    return _document(
        type="server",
        vendorTxCode="SRV-1",
        vpsTxId=VPS_TX_ID,
        securityKey=SECURITY_KEY,
        **extra,
    )


@dataclass
class FakePiOf(FakePi):
    """The shop's own Pi transaction, of the type the test names."""

    reference_type: str = "Deferred"

    def get_transaction(self, transaction_id: str) -> PiTransaction:
        return self._tx("SHOP-1", 2500, self.reference_type)


def _deliver(world: World, queue: FakeQueue, body: bytes) -> str:
    reply = handle_server_notification(
        "sandbox", body, store=world.store, queue=queue, redirect_url="https://s", unseal=unseal
    )
    return reply.status


def _apply_last(world: World, queue: FakeQueue, starter: FakeStarter) -> None:
    event = json.loads(queue.sent[-1][0])
    payment = PaymentTransaction.model_validate(event["payment"])
    apply_payment_update(world.store, starter, payment, contradiction=event["contradiction"])


def test_a_server_order_is_deferred_unless_the_shop_says_payment() -> None:
    plain = OrderSubmission.model_validate(_server())
    declared = OrderSubmission.model_validate(_server(txType="PAYMENT"))
    assert getattr(plain.payment, "tx_type", None) == "DEFERRED"
    assert getattr(declared.payment, "tx_type", None) == "PAYMENT"


@pytest.mark.parametrize("tx_type", ["TOKEN", "AUTHENTICATE", "payment", "", 1])
def test_any_other_tx_type_is_a_400_naming_the_field_and_the_allowed_values(
    tx_type: object,
) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_submission(json.dumps(_server(txType=tx_type)))
    reply = error_reply(refused.value)
    assert reply.status_code == 400
    [detail] = json.loads(reply.body)["details"]
    assert detail["field"] == "payment.server.txType"
    assert "'PAYMENT'" in detail["reason"]
    assert "'DEFERRED'" in detail["reason"]


def test_a_server_payment_is_registered_verified_and_captured_on_its_notification(
    world: World,
) -> None:
    starter, queue = FakeStarter(), FakeQueue()
    submission = OrderSubmission.model_validate(_server(txType="PAYMENT"))
    record = submit_order(submission, _intake(world, FakePi(), starter))
    assert record.payment is not None
    assert record.payment.transaction_type is TransactionType.PAYMENT
    assert record.payment.state is PaymentState.PENDING
    assert starter.started == []

    assert _deliver(world, queue, _notification(TxType="PAYMENT")) == "OK"
    _apply_last(world, queue, starter)
    record = world.store.get("W-1001")
    assert record.payment is not None
    assert (record.payment.transaction_type, record.payment.state) == (
        TransactionType.PAYMENT,
        PaymentState.CAPTURED,
    )
    assert record.status is OrderStatus.PAID
    assert "payment_contradiction" not in [h.event for h in record.history]
    assert starter.started == ["W-1001"]


def test_a_notification_calling_a_payment_deferred_changes_nothing(world: World) -> None:
    """TxType is unsigned: a PAYMENT registration stays a PAYMENT whatever it says."""
    starter, queue = FakeStarter(), FakeQueue()
    submission = OrderSubmission.model_validate(_server(txType="PAYMENT"))
    submit_order(submission, _intake(world, FakePi(), starter))
    assert _deliver(world, queue, _notification()) == "OK"  # TxType=DEFERRED
    _apply_last(world, queue, starter)
    record = world.store.get("W-1001")
    assert record.payment is not None
    assert record.payment.transaction_type is TransactionType.PAYMENT
    assert record.payment.state is PaymentState.CAPTURED
    [note] = [h for h in record.history if h.event == "payment_contradiction"]
    assert "registered as Payment" in (note.detail or "")


def test_a_pi_payment_reference_is_accepted_as_already_captured(world: World) -> None:
    starter = FakeStarter()
    submission = OrderSubmission.model_validate(
        _document(type="pi_transaction", transactionId="TX-SHOP-1", vendorTxCode="SHOP-1")
    )
    record = submit_order(submission, _intake(world, FakePiOf(reference_type="Payment"), starter))
    assert record.payment is not None
    assert record.payment.transaction_type is TransactionType.PAYMENT
    assert record.payment.state is PaymentState.CAPTURED
    assert record.status is OrderStatus.PAID
    assert starter.started == ["W-1001"]


@pytest.mark.parametrize("kind", ["Refund", "Repeat", "Authenticate"])
def test_a_pi_reference_to_anything_but_a_deferred_or_a_payment_is_refused(
    world: World, kind: str
) -> None:
    starter = FakeStarter()
    submission = OrderSubmission.model_validate(
        _document(type="pi_transaction", transactionId="TX-SHOP-1", vendorTxCode="SHOP-1")
    )
    with pytest.raises(InvalidInputError, match=f"payment.transactionId: .* is a {kind}"):
        submit_order(submission, _intake(world, FakePiOf(reference_type=kind), starter))
    assert world.store.find("W-1001") is None
    assert starter.started == []
