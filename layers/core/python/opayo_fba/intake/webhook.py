"""Opayo Server notifications: verify, record, queue, reply.

The signature is checked with the SecurityKey stored for the notification's VendorTxCode;
nothing is queued or stored unless it matches. A notification for a transaction we do not
know yet is answered `Status=ERROR`, so Opayo sends it again later (it retries for days)
instead of us losing it. Verified notifications go to the payment-events FIFO queue, grouped
by VendorTxCode (one transaction's events stay in order) and de-duplicated on VPSTxId+Status.

Only signed or registered facts move money. `TxType` is not signed, so the signature is
checked, and the payment built, with the transaction type registered with the order (see
`opayo_fba.transform.opayo_server`). A genuine notification whose unsigned fields contradict
the registration is still answered and applied on its signed facts, exactly as if the
contradiction were not there; the event also carries the contradiction, under an event id of
its own so that de-duplication does not swallow it, and the consumer records it on the order
(a note) while the handler counts it (the ServerNotificationContradiction alarm).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from opayo_fba.opayo.notifications import (
    NotificationFormatError,
    ReplyStatus,
    build_reply,
    check_notification,
    parse_notification,
)
from opayo_fba.store.orders import OrderStore
from opayo_fba.transform.opayo_server import (
    ServerNotificationError,
    payment_from_server_notification,
    server_tx_type,
    unsigned_contradictions,
)

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
    vendor_tx_code = fields.get("VendorTxCode", "")
    if not vendor_tx_code:
        return _reply("INVALID", redirect_url, "missing field VendorTxCode")
    record = store.find_by_vendor_tx_code(vendor_tx_code)
    if record is None or record.payment is None:
        return _reply("ERROR", redirect_url, "transaction not known yet; please retry")
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
        return _reply("INVALID", redirect_url, str(error))
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
