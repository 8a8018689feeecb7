"""Card payments whose order never reached us are found and ended from Opayo's records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from opayo_fba.errors import CardPaymentAbandoned
from opayo_fba.intake.abandoned import AbandonedSweep, sweep_abandoned_card_payments
from opayo_fba.intake.orders import IntakeDependencies, OrderSubmission, submit_order
from opayo_fba.model import Money, PaymentState
from opayo_fba.opayo.errors import OpayoUnavailable
from opayo_fba.opayo.pi import CardPayment
from opayo_fba.opayo.results import PiTransaction
from opayo_fba.saga.ports import ObservedPayment
from opayo_fba.store.orders import CARD_INTAKE_KEY_PREFIX
from tests.fixtures.opayo_sandbox import BROWSER_DATA
from tests.fixtures.saga_world import World, make_order


class Crashed(Exception):
    """Our function stopped right after Opayo answered (the order was never stored)."""


@dataclass
class Opayo:
    """Opayo's own record of each vendorTxCode: what the sweep must read before acting."""

    transactions: dict[str, PiTransaction] = field(default_factory=dict)
    state: PaymentState = PaymentState.AUTHORISED
    crash_after_create: bool = False
    unreachable: bool = False
    aborted: list[str] = field(default_factory=list)
    refunded: list[tuple[str, Money]] = field(default_factory=list)

    def create_payment(self, payment: CardPayment) -> PiTransaction:
        transaction = PiTransaction.from_pi(
            {
                "transactionId": f"TX-{payment.vendor_tx_code}",
                "transactionType": "Deferred",
                "status": "Ok",
                "statusCode": "0000",
                "statusDetail": "done",
                "amount": {"totalAmount": payment.amount.amount, "saleAmount": 0},
                "currency": "GBP",
            },
            payment.vendor_tx_code,
        )
        self.transactions[payment.vendor_tx_code] = transaction
        if self.crash_after_create:
            raise Crashed()
        return transaction

    def get_transaction(self, transaction_id: str) -> PiTransaction:
        return next(t for t in self.transactions.values() if t.transaction_id == transaction_id)

    def recover_transaction(self, vendor_tx_code: str) -> PiTransaction | None:
        if self.unreachable:
            raise OpayoUnavailable("getTransactionDetail", 503, "Unavailable", "down")
        return self.transactions.get(vendor_tx_code)

    def observe(self, transaction_id: str) -> ObservedPayment:
        captured = self.get_transaction(transaction_id).amount
        if self.state is PaymentState.CAPTURED:
            return ObservedPayment(self.state, captured=captured)
        return ObservedPayment(self.state)

    def abort(self, transaction_id: str) -> None:
        self.aborted.append(transaction_id)
        self.state = PaymentState.ABORTED

    def refund(
        self, reference_transaction_id: str, amount: Money, *, refund_id: str, description: str
    ) -> None:
        self.refunded.append((reference_transaction_id, amount))


class Starter:
    def start(self, order_id: str) -> bool:
        return True


def _intake(world: World, opayo: Opayo) -> IntakeDependencies:
    return IntakeDependencies(
        store=world.store,
        payments=lambda vendor: opayo,
        starter=Starter(),
        card_payment=CardPayment,
        seal=lambda text, order_id: "sealed",
    )


def _card_order(order_id: str = "W-2001") -> OrderSubmission:
    return OrderSubmission.model_validate(
        {
            "order": make_order(order_id).model_dump(mode="json"),
            "vendor": "sandbox",
            "sellerAccount": "uk-main",
            "payment": {
                "type": "pi_card",
                "merchantSessionKey": "MSK",
                "cardIdentifier": "CID",
                "strongCustomerAuthentication": BROWSER_DATA,
            },
        }
    )


def _notes(world: World) -> dict[str, dict[str, str]]:
    items = world.store.table.scan()["Items"]
    return {
        str(i["pk"]): {k: str(v) for k, v in i.items()}
        for i in items
        if str(i["pk"]).startswith(CARD_INTAKE_KEY_PREFIX)
    }


def _sweep(world: World, opayo: Opayo) -> AbandonedSweep:
    later = datetime.now(UTC) + timedelta(seconds=1)
    return sweep_abandoned_card_payments("sandbox", world.store, opayo, older_than=later)


def _crashed_intake(world: World, opayo: Opayo, order_id: str = "W-2001") -> None:
    opayo.crash_after_create = True
    with pytest.raises(Crashed):
        submit_order(_card_order(order_id), _intake(world, opayo))
    opayo.crash_after_create = False


def test_a_stored_card_order_leaves_no_note(world: World) -> None:
    opayo = Opayo()
    submit_order(_card_order(), _intake(world, opayo))
    assert _notes(world) == {}
    result = _sweep(world, opayo)
    assert result.notes == 0
    assert opayo.aborted == []


def test_an_authorisation_for_an_order_never_stored_is_aborted_and_a_late_retry_refused(
    world: World,
) -> None:
    opayo = Opayo()
    _crashed_intake(world, opayo)
    assert world.store.find("W-2001") is None
    assert list(_notes(world)) == [CARD_INTAKE_KEY_PREFIX + "W-2001"]

    result = _sweep(world, opayo)

    assert (result.notes, result.aborted, result.refunded) == (1, 1, 0)
    assert opayo.aborted == ["TX-PAY-W-2001"]
    [note] = _notes(world).values()
    assert note["intakeState"] == "ended"
    assert "heldVendor" not in note  # out of the index: the next sweep does not read it
    assert _sweep(world, opayo).notes == 0
    with pytest.raises(CardPaymentAbandoned, match="new order id"):
        submit_order(_card_order(), _intake(world, opayo))
    assert world.store.find("W-2001") is None


def test_money_already_captured_for_an_unknown_order_is_refunded_in_full(world: World) -> None:
    opayo = Opayo(state=PaymentState.CAPTURED)
    _crashed_intake(world, opayo)
    result = _sweep(world, opayo)
    assert result.refunded == 1
    [(transaction, amount)] = opayo.refunded
    assert transaction == "TX-PAY-W-2001"
    assert amount == opayo.transactions["PAY-W-2001"].amount
    assert opayo.aborted == []


def test_a_payment_opayo_never_made_frees_the_order_id(world: World) -> None:
    opayo = Opayo()
    _crashed_intake(world, opayo)
    opayo.transactions.clear()  # the create never landed after all
    result = _sweep(world, opayo)
    assert result.never_created == 1
    assert _notes(world) == {}
    record = submit_order(_card_order(), _intake(world, opayo))  # may be submitted again
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED


def test_an_order_stored_after_the_note_is_left_alone(world: World) -> None:
    opayo = Opayo()
    _crashed_intake(world, opayo)
    # The shop's retry finds Opayo's transaction and stores the order.
    submit_order(_card_order(), _intake(world, opayo))
    result = _sweep(world, opayo)
    assert opayo.aborted == []
    assert result.aborted == 0
    assert _notes(world) == {}


def test_once_the_sweep_has_claimed_a_note_a_late_retry_cannot_store_the_order(
    world: World,
) -> None:
    opayo = Opayo()
    _crashed_intake(world, opayo)
    assert world.store.claim_card_intake("W-2001")
    with pytest.raises(CardPaymentAbandoned):
        submit_order(_card_order(), _intake(world, opayo))
    assert world.store.find("W-2001") is None


def test_opayo_unreachable_leaves_the_note_for_the_next_run(world: World) -> None:
    opayo = Opayo(unreachable=True)
    _crashed_intake(world, opayo)
    assert _sweep(world, opayo).unresolved == 1
    [note] = _notes(world).values()
    assert note["intakeState"] == "ending"
    opayo.unreachable = False
    assert _sweep(world, opayo).aborted == 1
    assert opayo.aborted == ["TX-PAY-W-2001"]


def test_a_declined_payment_for_an_order_never_stored_leaves_the_order_id_free(
    world: World,
) -> None:
    opayo = Opayo(state=PaymentState.DECLINED)
    _crashed_intake(world, opayo)
    result = _sweep(world, opayo)
    assert result.nothing_held == 1
    assert (result.aborted, result.refunded) == (0, 0)
    assert opayo.aborted == []
    assert _notes(world) == {}  # no tombstone: nothing was held
    submit_order(_card_order(), _intake(world, opayo))  # a late retry is stored
    assert world.store.find("W-2001") is not None
