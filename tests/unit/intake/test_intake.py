"""Order intake, payment updates, Opayo Server notifications and SP-API notifications."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest

from opayo_fba.errors import ConflictError, InvalidInputError
from opayo_fba.intake.amazon_events import handle_amazon_notification
from opayo_fba.intake.orders import (
    IntakeDependencies,
    OrderSubmission,
    payment_vendor_tx_code,
    refuse_card_numbers,
    submit_order,
)
from opayo_fba.intake.payments import apply_payment_update
from opayo_fba.intake.webhook import NotificationNotYetVerifiable, handle_server_notification
from opayo_fba.model import OrderStatus, PaymentState
from opayo_fba.opayo.pi import CardPayment
from opayo_fba.opayo.results import PiTransaction
from opayo_fba.opayo.signatures import compute_vps_signature
from tests.fixtures.opayo_sandbox import BROWSER_DATA
from tests.fixtures.saga_world import World, authorised_payment, make_order

VPS_TX_ID = "{11111111-2222-3333-4444-555555555555}"
SECURITY_KEY = "ABCDEFGHIJ"


@dataclass
class FakeStarter:
    started: list[str] = field(default_factory=list)

    def start(self, order_id: str) -> bool:
        if order_id in self.started:
            return False
        self.started.append(order_id)
        return True


@dataclass
class FakePi:
    created: list[CardPayment] = field(default_factory=list)
    status: str = "Ok"

    def _tx(self, vendor_tx_code: str, amount: int, tx_type: str = "Deferred") -> PiTransaction:
        return PiTransaction.from_pi(
            {
                "transactionId": f"TX-{vendor_tx_code}",
                "transactionType": tx_type,
                "status": self.status,
                "statusCode": "0000" if self.status == "Ok" else "2000",
                "statusDetail": "done",
                "amount": {"totalAmount": amount, "saleAmount": amount, "surchargeAmount": 0},
                "currency": "GBP",
            },
            vendor_tx_code,
        )

    def get_transaction(self, transaction_id: str) -> PiTransaction:
        return self._tx("SHOP-1", 2500)

    def create_payment(self, payment: CardPayment) -> PiTransaction:
        self.created.append(payment)
        return self._tx(payment.vendor_tx_code, payment.amount.amount)


def seal(plaintext: str, order_id: str) -> str:
    """Stands in for KMS: reversible, bound to the order id, never the plaintext."""
    return f"sealed|{order_id}|{plaintext[::-1]}"


def unseal(sealed: str, order_id: str) -> str:
    marker, bound_to, text = sealed.split("|", 2)
    assert (marker, bound_to) == ("sealed", order_id)
    return text[::-1]


def _intake(world: World, pi: FakePi, starter: FakeStarter) -> IntakeDependencies:
    return IntakeDependencies(
        store=world.store,
        payments=lambda vendor: pi,
        starter=starter,
        card_payment=CardPayment,
        seal=seal,
    )


def _submission(order_id: str = "W-1001", **payment: Any) -> OrderSubmission:
    return OrderSubmission.model_validate(
        {
            "order": make_order(order_id).model_dump(mode="json"),
            "vendor": "sandbox",
            "sellerAccount": "uk-main",
            "payment": payment
            or {
                "type": "pi_card",
                "merchantSessionKey": "MSK",
                "cardIdentifier": "CID",
                "strongCustomerAuthentication": BROWSER_DATA,
            },
        }
    )


def test_card_payment_is_authorised_once_and_starts_the_saga(world: World) -> None:
    pi, starter = FakePi(), FakeStarter()
    record = submit_order(_submission(), _intake(world, pi, starter))
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED
    assert record.payment.vendor_tx_code == payment_vendor_tx_code("W-1001") == "PAY-W-1001"
    assert record.status is OrderStatus.PAYMENT_AUTHORISED
    assert starter.started == ["W-1001"]
    again = submit_order(_submission(), _intake(world, pi, starter))
    assert again.version == record.version
    assert len(pi.created) == 1  # the repeat did not authorise again


def test_same_id_different_order_is_a_conflict(world: World) -> None:
    deps = _intake(world, FakePi(), FakeStarter())
    submit_order(_submission(), deps)
    other = _submission().model_copy(update={"vendor": "othervendor"})
    with pytest.raises(ConflictError, match="different content"):
        submit_order(other, deps)


def test_declined_card_still_starts_the_saga_which_records_it(world: World) -> None:
    pi, starter = FakePi(status="NotAuthed"), FakeStarter()
    record = submit_order(_submission(), _intake(world, pi, starter))
    assert record.payment is not None
    assert record.payment.state is PaymentState.DECLINED
    assert starter.started == ["W-1001"]


def test_card_numbers_are_refused_without_being_echoed() -> None:
    body = json.dumps({"note": "pay with 4929 0000 0000 6 please"})
    with pytest.raises(InvalidInputError) as caught:
        refuse_card_numbers(body)
    assert "4929" not in str(caught.value)
    refuse_card_numbers(json.dumps({"phone": "020 7946 0000", "order": "1234567890123"}))


def _server_submission() -> OrderSubmission:
    return _submission(
        type="server", vendorTxCode="SRV-1", vpsTxId=VPS_TX_ID, securityKey=SECURITY_KEY
    )


def _notification(status: str = "OK", **overrides: str) -> bytes:
    fields = {
        "VPSProtocol": "4.00",
        "TxType": "DEFERRED",
        "VendorTxCode": "SRV-1",
        "VPSTxId": VPS_TX_ID,
        "Status": status,
        "StatusDetail": "0000 : The Authorisation was Successful.",
        "TxAuthNo": "123456",
        "AVSCV2": "ALL MATCH",
        "CardType": "VISA",
        "Last4Digits": "0006",
    }
    fields["VPSSignature"] = compute_vps_signature(
        fields, vendor_name="sandbox", security_key=SECURITY_KEY
    )
    fields.update(overrides)
    return urlencode(fields).encode()


@dataclass
class FakeQueue:
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, body: str, group_id: str, deduplication_id: str) -> None:
        self.sent.append((body, group_id, deduplication_id))


def test_server_notification_verified_queued_and_applied_once(world: World) -> None:
    starter, queue = FakeStarter(), FakeQueue()
    record = submit_order(_server_submission(), _intake(world, FakePi(), starter))
    assert record.payment is not None
    assert record.payment.state is PaymentState.PENDING
    assert starter.started == []
    assert "ABCDEFGHIJ" not in json.dumps(record.public_view())
    assert "ABCDEFGHIJ" not in record.model_dump_json()  # sealed, not kept in clear

    reply = handle_server_notification(
        "sandbox",
        _notification(),
        store=world.store,
        queue=queue,
        redirect_url="https://shop",
        unseal=unseal,
    )
    assert reply.body.startswith("Status=OK\r\nRedirectURL=https://shop")
    [(body, group, _)] = queue.sent
    assert group == "SRV-1"
    event = json.loads(body)
    assert event["event_id"] == f"{VPS_TX_ID}:OK"

    from opayo_fba.model import PaymentTransaction

    payment = PaymentTransaction.model_validate(event["payment"])
    first = apply_payment_update(world.store, starter, payment)
    second = apply_payment_update(world.store, starter, payment)
    assert (first.outcome, second.outcome) == ("applied", "ignored")
    assert starter.started == ["W-1001"]
    record = world.store.get("W-1001")
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED
    assert record.status is OrderStatus.PAYMENT_AUTHORISED


def test_forged_altered_or_unknown_notifications_change_nothing(world: World) -> None:
    queue = FakeQueue()
    submit_order(_server_submission(), _intake(world, FakePi(), FakeStarter()))
    altered = handle_server_notification(
        "sandbox",
        _notification(TxAuthNo="999999"),
        store=world.store,
        queue=queue,
        redirect_url="https://shop",
        unseal=unseal,
    )
    assert altered.status == "INVALID"
    assert "signature mismatch" in (altered.reason or "")
    wrong_vendor = handle_server_notification(
        "intruder",
        _notification(),
        store=world.store,
        queue=queue,
        redirect_url="https://shop",
        unseal=unseal,
    )
    assert wrong_vendor.status == "INVALID"
    # No order yet: neither INVALID nor ERROR (both cancel a genuine payment at Opayo).
    with pytest.raises(NotificationNotYetVerifiable, match="NOPE"):
        handle_server_notification(
            "sandbox",
            _notification(VendorTxCode="NOPE"),
            store=world.store,
            queue=queue,
            redirect_url="https://shop",
            unseal=unseal,
        )
    garbage = handle_server_notification(
        "sandbox", b"", store=world.store, queue=queue, redirect_url="https://shop", unseal=unseal
    )
    assert garbage.status == "INVALID"
    assert queue.sent == []


def test_payment_before_order_is_parked_then_joined(world: World) -> None:
    starter = FakeStarter()
    early = authorised_payment("W-1001").model_copy(
        update={"vendor_tx_code": "SRV-1", "provider": "server", "status": "OK"}
    )
    assert apply_payment_update(world.store, starter, early).outcome == "parked"
    record = submit_order(_server_submission(), _intake(world, FakePi(), starter))
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED
    assert starter.started == ["W-1001"]


def test_late_pending_never_downgrades_an_authorisation(world: World) -> None:
    starter = FakeStarter()
    submit_order(_submission(), _intake(world, FakePi(), starter))
    late = authorised_payment("W-1001").model_copy(
        update={"vendor_tx_code": "PAY-W-1001", "state": PaymentState.PENDING}
    )
    assert apply_payment_update(world.store, starter, late).outcome == "ignored"
    assert world.store.get("W-1001").payment.state is PaymentState.AUTHORISED  # type: ignore[union-attr]


def _fos(status: str, at: str, nid: str) -> dict[str, Any]:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "FULFILLMENT_ORDER_STATUS",
        "PayloadVersion": "1.0",
        "EventTime": at,
        "Payload": {
            "FulfillmentOrderStatusNotification": {
                "SellerId": "A1SANDBOXSELLER",
                "EventType": "Order",
                "StatusUpdatedDateTime": at,
                "SellerFulfillmentOrderId": "W-1001",
                "FulfillmentOrderStatus": status,
            }
        },
        "NotificationMetadata": {"NotificationId": nid},
    }


def test_fulfillment_notifications_only_move_forward(world: World) -> None:
    from opayo_fba.saga import steps

    world.add_order(make_order(), authorised_payment("W-1001"))
    state = steps.create_fulfillment_order(
        steps.validate_and_map({"orderId": "W-1001"}, world.deps), world.deps
    )
    steps.capture_payment(state, world.deps)
    processing = _fos("PROCESSING", "2026-11-28T12:00:00Z", "n1")
    planning_late = _fos("PLANNING", "2026-11-28T11:00:00Z", "n0")
    assert handle_amazon_notification(processing, world.store).outcome == "applied"
    assert handle_amazon_notification(processing, world.store).outcome == "stale"
    assert handle_amazon_notification(planning_late, world.store).outcome == "stale"
    record = world.store.get("W-1001")
    assert record.fulfillment_status == "Processing"
    assert record.status is OrderStatus.FULFILMENT_PROCESSING
    unknown = _fos("COMPLETE", "2026-11-28T13:00:00Z", "n2")
    unknown["Payload"]["FulfillmentOrderStatusNotification"]["SellerFulfillmentOrderId"] = "X"
    assert handle_amazon_notification(unknown, world.store).outcome == "unknown_order"
    with pytest.raises(InvalidInputError, match="unexpected SP-API notification type"):
        handle_amazon_notification({"NotificationType": "ANY_OFFER_CHANGED"}, world.store)


@pytest.mark.parametrize(
    "text",
    [
        "4929000000006",  # Opayo's Visa test card
        "4929 0000 0000 6",
        "5404-0000-0000-0001",  # Mastercard test card
        "374200000000004",  # American Express
        "4462000000000003",
    ],
)
def test_card_numbers_of_every_brand_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError):
        refuse_card_numbers(json.dumps({"note": text}))


@pytest.mark.parametrize(
    "text",
    [
        "206-1234567-1234505",  # an Amazon order id that happens to pass Luhn
        "1795910379343",  # an epoch-millisecond timestamp that passes Luhn
        "+44 20 7946 0000",
        "4929000000007",  # Visa-shaped, fails Luhn
    ],
)
def test_ids_timestamps_and_phones_are_not_card_numbers(text: str) -> None:
    refuse_card_numbers(json.dumps({"note": text}))


def test_order_change_moves_the_stored_amazon_order_forward_only(world: World) -> None:
    from datetime import UTC, datetime

    from opayo_fba.store.amazon_orders import AmazonOrderRecord, AmazonOrderStore

    amazon_orders = AmazonOrderStore(world.store.table)
    amazon_orders.put_if_newer(
        AmazonOrderRecord(
            amazon_order_id="206-0000001-0000001",
            seller_account="uk-main",
            last_update=datetime(2026, 11, 28, 10, tzinfo=UTC),
            source_status="Unshipped",
        )
    )

    def change(status: str, at: str, nid: str, order_id: str = "206-0000001-0000001") -> Any:
        return {
            "NotificationType": "ORDER_CHANGE",
            "EventTime": at,
            "Payload": {
                "OrderChangeNotification": {
                    "AmazonOrderId": order_id,
                    "Summary": {"OrderStatus": status},
                }
            },
            "NotificationMetadata": {"NotificationId": nid},
        }

    shipped = change("Shipped", "2026-11-28T12:00:00Z", "c1")
    assert handle_amazon_notification(shipped, world.store, None, amazon_orders).outcome == (
        "applied"
    )
    late = change("Unshipped", "2026-11-28T11:00:00Z", "c0")
    assert handle_amazon_notification(late, world.store, None, amazon_orders).outcome == "stale"
    stored = amazon_orders.find("206-0000001-0000001")
    assert stored is not None
    assert (stored.source_status, stored.status) == ("Shipped", OrderStatus.SHIPPED)
    unknown = change("Shipped", "2026-11-28T12:00:00Z", "c2", order_id="206-9999999-9999999")
    assert handle_amazon_notification(unknown, world.store, None, amazon_orders).outcome == (
        "unknown_order"
    )


def test_templates_fill_the_opayo_description_of_the_payment_we_create(world: World) -> None:
    from pathlib import Path

    from opayo_fba.settings import Settings
    from opayo_fba.wiring import Wiring

    shop = Path(__file__).resolve().parents[3] / "events" / "shop" / "shopify-order.json"
    source = json.loads(shop.read_text())
    wiring = Wiring(Settings(MAPPING_TEMPLATES="starter:shopify"))
    expected = wiring.opayo_fields(source)["description"]
    pi, starter = FakePi(), FakeStarter()
    deps = _intake(world, pi, starter)
    deps.opayo_fields = wiring.opayo_fields
    submission = _submission().model_copy(update={"source": source})
    submit_order(submission, deps)
    [created] = pi.created
    assert created.description == expected
    assert created.description != "Order W-1001"  # not the default


@pytest.mark.parametrize("status", ["NOTAUTHED", "REJECTED", "ABORT"])
def test_a_verified_notification_is_answered_ok_whatever_its_status(
    world: World, status: str
) -> None:
    # INVALID or ERROR to a genuine notification would cancel the transaction at Opayo.
    queue = FakeQueue()
    submit_order(_server_submission(), _intake(world, FakePi(), FakeStarter()))
    reply = handle_server_notification(
        "sandbox",
        _notification(status),
        store=world.store,
        queue=queue,
        redirect_url="https://shop",
        unseal=unseal,
    )
    assert reply.status == "OK"
    [(body, _, _)] = queue.sent
    assert json.loads(body)["payment"]["status"] == status


def test_a_genuine_notification_with_a_forged_txtype_moves_no_money(world: World) -> None:
    """TxType is not signed: the payment stays the registered Deferred, the contradiction is
    recorded on the order and reported, and the authorisation is applied as usual."""
    starter, queue = FakeStarter(), FakeQueue()
    submit_order(_server_submission(), _intake(world, FakePi(), starter))
    genuine = _notification()
    forged = genuine.replace(b"TxType=DEFERRED", b"TxType=PAYMENT")
    assert forged != genuine
    reply = handle_server_notification(
        "sandbox", forged, store=world.store, queue=queue, redirect_url="https://s", unseal=unseal
    )
    assert reply.status == "OK"  # the signed facts are genuine: Opayo must not be told INVALID
    assert reply.contradictions
    [(body, _, dedup)] = queue.sent
    event = json.loads(body)
    assert event["event_id"].startswith(f"{VPS_TX_ID}:OK:contradiction:")
    assert "registered as Deferred" in event["contradiction"]

    from opayo_fba.model import PaymentTransaction, TransactionType

    payment = PaymentTransaction.model_validate(event["payment"])
    assert payment.transaction_type is TransactionType.DEFERRED
    assert payment.state is PaymentState.AUTHORISED
    apply_payment_update(world.store, starter, payment, contradiction=event["contradiction"])
    record = world.store.get("W-1001")
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED
    assert record.payment.transaction_type is TransactionType.DEFERRED
    assert record.status is OrderStatus.PAYMENT_AUTHORISED
    assert [h.event for h in record.history].count("payment_contradiction") == 1
    assert starter.started == ["W-1001"]

    # The genuine notification afterwards is de-duplicated on its own id, not the forged one's.
    handle_server_notification(
        "sandbox", genuine, store=world.store, queue=queue, redirect_url="https://s", unseal=unseal
    )
    assert queue.sent[1][2] != dedup


def test_a_payment_update_cannot_change_a_registered_server_type(world: World) -> None:
    from opayo_fba.model import TransactionType

    starter = FakeStarter()
    submit_order(_server_submission(), _intake(world, FakePi(), starter))
    registered = world.store.get("W-1001").payment
    assert registered is not None
    captured = registered.model_copy(
        update={
            "transaction_type": TransactionType.PAYMENT,
            "status": "OK",
            "state": PaymentState.CAPTURED,
            "amount": registered.amount.model_copy(update={"amount": 1}),
        }
    )
    assert apply_payment_update(world.store, starter, captured).outcome == "applied"
    record = world.store.get("W-1001")
    assert record.payment is not None
    assert record.payment.state is PaymentState.AUTHORISED
    assert record.payment.transaction_type is TransactionType.DEFERRED
    assert record.payment.amount == registered.amount
    assert "payment_contradiction" in [h.event for h in record.history]


def test_a_forged_token_txtype_cannot_change_what_the_signature_covers(world: World) -> None:
    queue = FakeQueue()
    submit_order(_server_submission(), _intake(world, FakePi(), FakeStarter()))
    forged = _notification().replace(b"TxType=DEFERRED", b"TxType=TOKEN") + b"&Token=%7BABC%7D"
    reply = handle_server_notification(
        "sandbox", forged, store=world.store, queue=queue, redirect_url="https://s", unseal=unseal
    )
    # Verified as the registered DEFERRED (Token not counted): genuine, and moves no money.
    assert reply.status == "OK"
    payment = json.loads(queue.sent[0][0])["payment"]
    assert payment["transaction_type"] == "Deferred"
