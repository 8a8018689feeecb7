"""The Reporting API's `txstateid`: one number for where a transaction stands.

Values from the list Sage Pay support gave (Stack Overflow question 40176413, "Sagepay
Reporting API getTransactionDetail txstateid values"), which the reference page
(`docs/reference/opayo.md`, "Knowing what happened after a lost response") repeats for
8, 14, 15, 16 and 19, confirmed in part by ebizmarts' Magento Sage Pay Suite
(Model/Api/Shared.php: 14, 15, 16; Model/Cron.php: 8). Which value a RELEASED Deferred shows is
not published: the sandbox shows 16, "successfully authorised" (our assumption, and what
ebizmarts' captureDeferredTransaction reads as "already taken"); the connector tolerates
another value (docs/sandbox-opayo.md, OPAYO-RPT-03).
"""

from __future__ import annotations

from datetime import timedelta

from sandbox.opayo.context import SandboxContext
from sandbox.opayo.state import Record, parse_iso

REGISTERED_ON_CARD_SELECTION = 2
ON_CARD_DETAILS_PAGE = 3
AT_3D_SECURE = 5
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
DEFERRED_EXPIRED = 27
DEFERRED_HOLD = timedelta(days=30)

_FAILED = {
    "NotAuthed": DECLINED_BY_BANK,
    "Rejected": REJECTED_BY_RULES,
    "Error": ERROR_AT_OPAYO,
    "Malformed": ERROR_AT_OPAYO,
    "Invalid": ERROR_AT_OPAYO,
}


def tx_state_id(context: SandboxContext, record: Record) -> int:
    """The txstateid getTransactionDetail shows for `record` now."""
    server = record.get("server") or {}
    # rule: OPAYO-RPT-03
    if server.get("status") == "REGISTERED":
        return REGISTERED_ON_CARD_SELECTION
    if record["status"] == "Registered":
        return ON_CARD_DETAILS_PAGE
    if record["status"] == "3DAuth":
        return AT_3D_SECURE
    if server.get("status") == "ABORT":
        return TIMED_OUT_AFTER_15_MINUTES if server.get("timedOut") else ABORTED_BY_CUSTOMER
    if record["status"] != "Ok":
        return _FAILED.get(record["status"], ERROR_AT_OPAYO)
    if server.get("vendorCancelled"):
        return CANCELLED_BY_NOTIFICATION_REPLY
    # rule: OPAYO-RPT-11
    # An instruction the vendor gave shows through, answered notification or not.
    if record["voided"]:
        return VOIDED_BY_VENDOR
    if record["transactionType"] == "Deferred" and record["aborted"]:
        return DEFERRED_ABORTED_BY_VENDOR
    if record["transactionType"] == "Deferred" and record["released"]:
        return SUCCESSFULLY_AUTHORISED  # our assumption: no source says what a release shows
    if server.get("vendorReply") is None and server.get("txType") in (
        "PAYMENT",
        "DEFERRED",
        "TOKEN",
    ):
        return AWAITING_NOTIFICATION_REPLY
    if record["transactionType"] == "Token":
        return TOKEN_REGISTERED
    if record["transactionType"] == "Deferred":
        if context.clock.now() > parse_iso(record["createdAt"]) + DEFERRED_HOLD:
            return DEFERRED_EXPIRED
        return DEFERRED_AWAITING_RELEASE
    return SUCCESSFULLY_AUTHORISED


# rule: OPAYO-RPT-12
# The `status` text that goes with each txstateid (the same Stack Overflow list).
STATE_TEXT: dict[int, str] = {
    REGISTERED_ON_CARD_SELECTION: "User on the Card Selection Page.",
    ON_CARD_DETAILS_PAGE: "User on the Card Details Entry Page.",
    AT_3D_SECURE: "Transaction at 3D-Secure Authentication Stage.",
    # Our wording; the list's own text for 7 is "Vendor Notified of transaction state at their
    # NotificationURL. Awaiting response." (docs/sandbox-opayo.md, OPAYO-RPT-12).
    AWAITING_NOTIFICATION_REPLY: "Authorised, awaiting the Vendor's notification reply.",
    TIMED_OUT_AFTER_15_MINUTES: "Transaction CANCELLED by Opayo after 15 minutes of inactivity.",
    CANCELLED_BY_NOTIFICATION_REPLY: "Transaction completed but Vendor systems returned INVALID "
    "or ERROR in response to notification POST. Transaction CANCELLED by the Vendor.",
    REJECTED_BY_RULES: "Transaction REJECTED by the Fraud Rules you have in place.",
    ABORTED_BY_CUSTOMER: "Transaction ABORTED by the Customer on the Payment Pages.",
    DECLINED_BY_BANK: "Transaction DECLINED by the bank (NOTAUTHED).",
    ERROR_AT_OPAYO: "An ERROR occurred at Opayo which cancelled this transaction.",
    DEFERRED_AWAITING_RELEASE: "Successful DEFERRED transaction, awaiting RELEASE.",
    SUCCESSFULLY_AUTHORISED: "Successfully authorised transaction.",
    VOIDED_BY_VENDOR: "Transaction VOIDed by the Vendor.",
    DEFERRED_ABORTED_BY_VENDOR: "Successful DEFERRED transaction ABORTED by the Vendor.",
    TOKEN_REGISTERED: "Successfully registered token.",
    DEFERRED_EXPIRED: "DEFERRED transaction that expired before it was RELEASEd or ABORTed.",
}
