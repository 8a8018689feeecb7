"""The Reporting API's `txstateid`: what state a transaction is in.

Values from the list Sage Pay support gave (Stack Overflow question 40176413, "Sagepay
Reporting API getTransactionDetail txstateid values"), confirmed in part by ebizmarts'
Magento Sage Pay Suite (Model/Api/Shared.php: 14, 15, 16; Model/Cron.php: 8). Which value a
RELEASED Deferred shows is not published: the sandbox shows 16, "successfully authorised"
(our assumption, and what ebizmarts' captureDeferredTransaction reads as "already taken").
"""

from __future__ import annotations

from sandbox.opayo.state import Record

REGISTERED_ON_CARD_SELECTION = 2
AWAITING_NOTIFICATION_REPLY = 7
TIMED_OUT_AFTER_15_MINUTES = 8
CANCELLED_BY_NOTIFICATION_REPLY = 9
REJECTED_BY_RULES = 10
ABORTED_BY_CUSTOMER = 11
DECLINED_BY_BANK = 12
ERROR_AT_OPAYO = 13
DEFERRED_AWAITING_RELEASE = 14
SUCCESSFULLY_AUTHORISED = 16
VOIDED_BY_VENDOR = 18
DEFERRED_ABORTED_BY_VENDOR = 19
TOKEN_REGISTERED = 25

_FAILED = {
    "NotAuthed": DECLINED_BY_BANK,
    "Rejected": REJECTED_BY_RULES,
    "Error": ERROR_AT_OPAYO,
    "Malformed": ERROR_AT_OPAYO,
    "Invalid": ERROR_AT_OPAYO,
}


def tx_state_id(record: Record) -> int:
    server = record.get("server") or {}
    if server.get("status") == "REGISTERED":
        return REGISTERED_ON_CARD_SELECTION
    if server.get("status") == "ABORT":
        return TIMED_OUT_AFTER_15_MINUTES if server.get("timedOut") else ABORTED_BY_CUSTOMER
    if record["status"] != "Ok":
        return _FAILED.get(record["status"], ERROR_AT_OPAYO)
    if server.get("vendorCancelled"):
        return CANCELLED_BY_NOTIFICATION_REPLY
    # An instruction the vendor gave shows through, answered notification or not.
    if record["voided"]:
        return VOIDED_BY_VENDOR
    if record["transactionType"] == "Deferred" and record["aborted"]:
        return DEFERRED_ABORTED_BY_VENDOR
    if record["transactionType"] == "Deferred" and record["released"]:
        return SUCCESSFULLY_AUTHORISED
    if server.get("vendorReply") is None and server.get("txType") in (
        "PAYMENT",
        "DEFERRED",
        "TOKEN",
    ):
        return AWAITING_NOTIFICATION_REPLY
    if record["transactionType"] == "Token":
        return TOKEN_REGISTERED
    if record["transactionType"] == "Deferred":
        return DEFERRED_AWAITING_RELEASE
    return SUCCESSFULLY_AUTHORISED
