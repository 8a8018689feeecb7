"""Opayo Server notifications: verify, record, queue, reply.

What Opayo does with our answer (reference, "Corrections"; docs/connectors.md): `Status=OK`
lets the transaction complete; `Status=INVALID` or `Status=ERROR` CANCELS it, for good; only
no valid answer (a non-200, or a body that does not start with `Status=`) is tried again, on
Opayo's schedule (5 x 5 min, then 15 x 15 min, ...). So:
- verified (the signature matches the SecurityKey stored with the order): queued, then
  answered `Status=OK`, whatever its Status says (a NOTAUTHED is genuine news too);
- forged, altered, malformed, or for another vendor's transaction: `Status=INVALID`, which
  changes nothing of ours (and cancels nothing real: Opayo did not send it);
- the order has not reached us yet, so there is no SecurityKey to verify it with:
  NotificationNotYetVerifiable, answered HTTP 503 with no `Status=` line, so Opayo sends it
  again in five minutes. Nothing unverified is stored. The shop avoids the wait by
  registering the order with us (POST /orders) before it sends the shopper to Opayo.
Verified notifications go to the payment-events FIFO queue, grouped by VendorTxCode (one
transaction's events stay in order) and de-duplicated on VPSTxId+Status.

Only signed or registered facts move money. `TxType` is not signed, so the signature is
checked, and the payment built, with the transaction type registered with the order (see
`opayo_fba.convert.opayo_server`). A genuine notification whose unsigned fields contradict
the registration is still answered and applied on its signed facts, exactly as if the
contradiction were not there; the event also carries the contradiction, under an event id of
its own so that de-duplication does not swallow it, and the consumer records it on the order
(a note) while the handler counts it (the ServerNotificationContradiction alarm).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from opayo_fba.card_numbers import contains_card_number, quote_input
from opayo_fba.convert.opayo_server import (
    ServerNotificationError,
    payment_from_server_notification,
    server_tx_type,
    unsigned_contradictions,
)
from opayo_fba.errors import UpstreamError
from opayo_fba.opayo.notifications import (
    NotificationFormatError,
    ReplyStatus,
    build_reply,
    check_notification,
    parse_notification,
)
from opayo_fba.store.orders import OrderStore

CARD_NUMBER_IN_NOTIFICATION = "the notification contains what looks like a card number"
_VENDOR_TX_CODE = re.compile(r"[A-Za-z0-9{}._-]{1,40}")


class NotificationNotYetVerifiable(UpstreamError):
    """No order holds this VendorTxCode yet: it cannot be verified, and must not be refused
    (INVALID or ERROR would cancel a genuine payment). Answered 503, so Opayo retries."""

    def __init__(self, vendor_tx_code: str) -> None:
        super().__init__(
            f"no order with vendorTxCode {quote_input(vendor_tx_code, 40)} yet; "
            "Opayo will send it again"
        )
        self.vendor_tx_code = vendor_tx_code


METRIC_CONTRADICTION = "ServerNotificationContradiction"
"""Counted by the webhook handler for every genuine notification that contradicts the
registration (infra/monitoring.py alarms on it)."""


class PaymentEventQueue(Protocol):
    def send(self, body: str, group_id: str, deduplication_id: str) -> None: ...


@dataclass(frozen=True)
class NotificationReply:
    status: ReplyStatus
    body: str
    reason: str | None = None
    contradictions: tuple[str, ...] = ()
    """Unsigned fields of a genuine notification that contradict the registration."""


@dataclass(frozen=True)
class PaymentEvent:
    """What travels on the payment-events queue."""

    event_id: str  # the provider's own id: VPSTxId + Status
    vendor: str
    source: str
    payment: dict[str, Any]
    contradiction: str | None = None
    """Unsigned fields that contradicted the registration (recorded, never applied)."""


def _reply(status: ReplyStatus, redirect_url: str, reason: str | None) -> NotificationReply:
    return NotificationReply(status, build_reply(status, redirect_url, reason), reason)


def notification_event_id(fields: dict[str, str], contradiction: str | None = None) -> str:
    """VPSTxId:Status; a contradicted copy gets a suffix of its own, so it is not de-duplicated
    away against the genuine one (its note must be recorded) and is recorded once."""
    event_id = f"{fields['VPSTxId']}:{fields['Status']}"
    if contradiction is None:
        return event_id
    unsigned = "\n".join(f"{name}={fields.get(name, '')}" for name in UNSIGNED_FIELDS)
    return f"{event_id}:contradiction:{hashlib.sha256(unsigned.encode()).hexdigest()[:16]}"


UNSIGNED_FIELDS = ("TxType",)
"""Notification fields checked against the registration (VPSSignature does not cover them)."""


def handle_server_notification(
    vendor: str,
    body: bytes | str,
    *,
    store: OrderStore,
    queue: PaymentEventQueue,
    redirect_url: str,
    unseal: Callable[[str, str], str],
) -> NotificationReply:
    try:
        fields = parse_notification(body)
    except NotificationFormatError as error:
        return _reply("INVALID", redirect_url, str(error))
    if any(
        contains_card_number(name) or contains_card_number(value) for name, value in fields.items()
    ):
        return _reply("INVALID", redirect_url, CARD_NUMBER_IN_NOTIFICATION)
    vendor_tx_code = fields.get("VendorTxCode", "")
    if not vendor_tx_code:
        return _reply("INVALID", redirect_url, "missing field VendorTxCode")
    if not _VENDOR_TX_CODE.fullmatch(vendor_tx_code):
        # Looked up only if it can be one: a key DynamoDB refuses would be a 5xx.
        return _reply("INVALID", redirect_url, "field VendorTxCode is not a vendorTxCode")
    record = store.find_by_vendor_tx_code(vendor_tx_code)
    if record is None or record.payment is None:
        raise NotificationNotYetVerifiable(vendor_tx_code)
    if record.vendor != vendor or not record.server_security_key_sealed:
        return _reply("INVALID", redirect_url, "transaction does not belong to this vendor")
    security_key = unseal(record.server_security_key_sealed, record.order_id)
    registered = record.payment
    # VPSSignature counts `Token` only for TxType TOKEN: verify with the registered TxType,
    # so a forged TxType cannot change what the signature covers.
    signed = {**fields, "TxType": server_tx_type(registered.transaction_type)}
    check = check_notification(signed, vendor_name=vendor, security_key=security_key)
    if not check:
        return _reply("INVALID", redirect_url, check.reason)
    try:
        payment = payment_from_server_notification(
            fields, registered=registered, order_id=record.order_id
        )
    except ServerNotificationError as error:
        # Genuine (it is signed), but nothing we can apply to a payment: say OK, queue nothing.
        return NotificationReply("OK", build_reply("OK", redirect_url), f"not applied: {error}")

    contradictions = unsigned_contradictions(fields, registered)
    contradiction = "; ".join(contradictions) or None
    event_id = notification_event_id(fields, contradiction)
    event = PaymentEvent(
        event_id=event_id,
        vendor=vendor,
        source="opayo-server",
        payment=payment.model_dump(mode="json"),
        contradiction=contradiction,
    )
    queue.send(
        json.dumps(event.__dict__),
        group_id=vendor_tx_code,
        deduplication_id=hashlib.sha256(event_id.encode()).hexdigest(),
    )
    reply = _reply("OK", redirect_url, None)
    return replace(reply, contradictions=contradictions)
