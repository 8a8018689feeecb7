"""Hostile Server notifications: decoded as Opayo sends them, refused without a lookup."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest

from opayo_fba.intake.webhook import (
    CARD_NUMBER_IN_NOTIFICATION,
    NotificationNotYetVerifiable,
    handle_server_notification,
)
from tests.fixtures.saga_world import World

REDIRECT = "https://shop.example.com/done"


@dataclass
class Queue:
    sent: list[str] = field(default_factory=list)

    def send(self, body: str, group_id: str, deduplication_id: str) -> None:
        self.sent.append(body)


def fields(**changes: str) -> dict[str, str]:
    base = {
        "VPSProtocol": "4.00",
        "TxType": "DEFERRED",
        "VendorTxCode": "PAY-W-1",
        "VPSTxId": "{11111111-2222-3333-4444-555555555555}",
        "Status": "OK",
        "VPSSignature": "0" * 32,
    }
    return base | changes


def never_unseal(sealed: str, order_id: str) -> str:
    raise AssertionError("nothing may be unsealed")


@pytest.mark.parametrize(
    "body",
    [
        urlencode(fields(StatusDetail="card 4929 0000 0000 6")).encode(),
        urlencode(fields(**{"4929000000006": "x"})).encode(),
        urlencode(fields(CardNumber="5404-0000-0000-0001")).encode("latin-1"),
    ],
)
def test_a_notification_with_a_card_number_is_invalid_and_not_echoed(
    world: World, body: bytes
) -> None:
    queue = Queue()
    reply = handle_server_notification(
        "sandbox", body, store=world.store, queue=queue, redirect_url=REDIRECT, unseal=never_unseal
    )
    assert reply.status == "INVALID"
    assert reply.reason == CARD_NUMBER_IN_NOTIFICATION
    assert "4929" not in reply.body
    assert "5404" not in reply.body
    assert queue.sent == []


@pytest.mark.parametrize("code", ["v" * 3000, "a b", "\ufffd", "x" * 41])
def test_a_vendor_tx_code_that_cannot_be_one_is_invalid_without_a_lookup(
    world: World, code: str
) -> None:
    reply = handle_server_notification(
        "sandbox",
        urlencode(fields(VendorTxCode=code)).encode(),
        store=world.store,
        queue=Queue(),
        redirect_url=REDIRECT,
        unseal=never_unseal,
    )
    assert reply.status == "INVALID"
    assert "VendorTxCode" in (reply.reason or "")


@pytest.mark.parametrize(
    ("body", "readable"),
    [
        (b"\xff\xfeS\x00t\x00a\x00", False),  # UTF-16
        (b"Status=OK&VendorTxCode=PAY-W-1&Name=\xe9\xe8\xff", True),  # Latin-1
        (b"\x00\x01\x02", False),
        ("VendorTxCode=PAY-W-1&X=\ud800".encode("utf-8", "surrogatepass"), True),
    ],
)
def test_bodies_that_are_not_utf8_are_decoded_never_crash(
    world: World, body: bytes, readable: bool
) -> None:
    # Decoded (Latin-1 where not UTF-8) and then judged: unreadable is INVALID; a readable
    # VendorTxCode no order holds yet is "not verifiable yet" (answered 503), never a crash.
    queue = Queue()

    def notify() -> object:
        return handle_server_notification(
            "sandbox", body, store=world.store, queue=queue, redirect_url=REDIRECT,
            unseal=never_unseal,
        )  # fmt: skip

    if readable:
        with pytest.raises(NotificationNotYetVerifiable) as pending:
            notify()
        assert pending.value.vendor_tx_code == "PAY-W-1"
    else:
        reply = notify()
        assert getattr(reply, "status", None) == "INVALID"
    assert not queue.sent
