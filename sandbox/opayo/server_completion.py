"""Finishing a Server-integration transaction as the shopper would, and the signed
notification that follows (queued here, delivered by `notifications.NotificationDispatcher`)."""

from __future__ import annotations

from typing import Any

from sandbox.opayo.cards import TestCard
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.outcomes import ABORTED, OK, Outcome
from sandbox.opayo.signing import sign_notification
from sandbox.opayo.state import (
    NOTIFICATION,
    PENDING_NOTIFICATION,
    PENDING_REGISTRATION,
    Record,
    iso,
    new_token,
)
from sandbox.opayo.transactions import apply_outcome

PROTOCOL = "4.00"
NOTIFICATION_FIELDS = (
    "VPSProtocol",
    "TxType",
    "VendorTxCode",
    "VPSTxId",
    "Status",
    "StatusDetail",
    "TxAuthNo",
    "AVSCV2",
    "AddressResult",
    "PostCodeResult",
    "CV2Result",
    "GiftAid",
    "3DSecureStatus",
    "CAVV",
    "AddressStatus",
    "PayerStatus",
    "CardType",
    "Last4Digits",
    "FraudResponse",
    "Surcharge",
    "DeclineCode",
    "ExpiryDate",
    "BankAuthCode",
    "Token",
    "ACSTransID",
    "DSTransID",
    "SchemeTraceID",
)


def _avscv2(address: bool, postcode: bool, security_code: bool) -> str:
    if address and postcode and security_code:
        return "ALL MATCH"
    if security_code:
        return "SECURITY CODE MATCH ONLY"
    if address or postcode:
        return "ADDRESS MATCH ONLY"
    return "NO DATA MATCHES"


def _matched(flag: bool) -> str:
    return "MATCHED" if flag else "NOTMATCHED"


# rule: OPAYO-NTF-01
def complete_registration(
    context: SandboxContext,
    record: Record,
    outcome: Outcome,
    *,
    card: TestCard | None,
    expiry_date: str,
    security_code_matched: bool,
    status_detail: str | None = None,
) -> Record:
    """Apply the shopper's outcome to a Registered transaction and queue its notification.

    The caller holds the store lock and has checked the transaction is still Registered.
    `status_detail` replaces the outcome's text (e.g. a bank's message with accents, which
    the gateway sends as ISO-8859-1).
    """
    now = context.clock.now()
    server = record["server"]
    apply_outcome(record, outcome, now)
    server.update(status=outcome.server_status, completedAt=iso(now))
    fields: dict[str, str] = dict.fromkeys(NOTIFICATION_FIELDS, "")
    fields.update(
        VPSProtocol=PROTOCOL,
        TxType=server["txType"],
        VendorTxCode=record["vendorTxCode"],
        VPSTxId=record["vpsTxId"],
        Status=outcome.server_status,
        StatusDetail=f"{outcome.status_code} : {status_detail or outcome.status_detail}",
        GiftAid="0",
    )
    token = server["txType"] == "TOKEN"
    if card is not None and outcome is not ABORTED:
        record["card"] = {
            "cardType": card.pi_type,
            "serverCardType": card.server_type,
            "lastFourDigits": card.number[-4:],
            "expiryDate": expiry_date,
        }
        address, postcode = server["addressMatched"], server["postcodeMatched"]
        authorised = outcome is OK and not token
        # rule: OPAYO-NTF-12
        fields.update(
            AVSCV2=_avscv2(address, postcode, security_code_matched),
            AddressResult=_matched(address),
            PostCodeResult=_matched(postcode),
            CV2Result=_matched(security_code_matched),
            CardType=card.server_type,
            Last4Digits=card.number[-4:],
            ExpiryDate=expiry_date,
            FraudResponse="ACCEPT",
            Surcharge="0.00",
            DeclineCode="00" if outcome is OK else "05",
            TxAuthNo=str(record["retrievalReference"]) if authorised else "",
            BankAuthCode="999777" if authorised else "",
            **{"3DSecureStatus": "OK"},
            CAVV="AAABARR5kwAAAAAAAAAAAAAAAAA=" if authorised else "",
            ACSTransID=f"acs-{record['transactionId'].lower()}",
            DSTransID=f"ds-{record['transactionId'].lower()}",
            SchemeTraceID=f"trace-{record['retrievalReference']}" if authorised else "",
        )
        if token and outcome is OK:
            fields["Token"] = new_token()
    # What a Shared Protocol post must quote back (RELEASE, ABORT, REFUND, VOID).
    server["txAuthNo"] = fields["TxAuthNo"]
    fields["VPSSignature"] = sign_notification(
        fields, vendor=context.options.vendor, security_key=server["securityKey"]
    )
    context.state.save_transaction(record)
    context.state.store.delete(PENDING_REGISTRATION, record["transactionId"])
    queue_notification(context, record, fields)
    return record


def queue_notification(context: SandboxContext, record: Record, fields: dict[str, str]) -> Record:
    sequence = context.state.next_sequence("notification")
    now = iso(context.clock.now())
    notification: dict[str, Any] = {
        "id": f"N{sequence:06d}",
        "sequence": sequence,
        "transactionId": record["transactionId"],
        "vpsTxId": record["vpsTxId"],
        "vendorTxCode": record["vendorTxCode"],
        "status": fields["Status"],
        "url": record["server"]["notificationUrl"],
        "fields": fields,
        "createdAt": now,
        "nextAttemptAt": now,
        "attempts": [],
        "delivered": False,
        "deliveredAt": None,
        "redirectUrl": None,
        "gaveUp": False,
    }
    context.state.store.put(NOTIFICATION, notification["id"], notification)
    context.state.store.put(
        PENDING_NOTIFICATION, notification["id"], {"nextAttemptAt": now, "sequence": sequence}
    )
    if context.dispatcher is not None:
        context.dispatcher.ensure_started()
    return notification
