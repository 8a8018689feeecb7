"""The Reporting API's `txstateid`: one number for where a transaction stands.

The numbers and their meanings are the list in the answer to Stack Overflow question 40176413
("SagePay Reporting API getTransactionDetail txstateid values"), which the reference page
(`/work/shared/reference/opayo.md`, "Knowing what happened after a lost response") repeats
for 8, 14, 15, 16 and 19. Which number a RELEASED Deferred shows is published nowhere; the
sandbox shows 16 ("successfully authorised"), and the connector tolerates another value
(docs/sandbox-opayo.md, OPAYO-RPT-03).
"""

from __future__ import annotations

from datetime import timedelta

from sandbox.opayo.context import SandboxContext
from sandbox.opayo.state import Record, parse_iso

ON_CARD_DETAILS_PAGE = 3
AT_3D_SECURE = 5
CANCELLED_AFTER_15_MINUTES = 8
REJECTED_BY_RULES = 10
ABORTED_BY_CUSTOMER = 11
DECLINED = 12
ERROR = 13
DEFERRED_AWAITING_RELEASE = 14
AUTHORISED = 16
VOIDED = 18
DEFERRED_ABORTED = 19
DEFERRED_EXPIRED = 27
DEFERRED_HOLD = timedelta(days=30)


def tx_state_id(context: SandboxContext, record: Record) -> int:
    """The txstateid getTransactionDetail shows for `record` now."""
    status = record["status"]
    server = record.get("server") or {}
    # rule: OPAYO-RPT-03
    if status == "Registered":
        return ON_CARD_DETAILS_PAGE
    if status == "3DAuth":
        return AT_3D_SECURE
    if server.get("status") == "ABORT":
        completed, started = server.get("completedAt"), record["createdAt"]
        waited = parse_iso(completed) - parse_iso(started) if completed else timedelta()
        if waited >= timedelta(seconds=context.options.server_abort_after):
            return CANCELLED_AFTER_15_MINUTES
        return ABORTED_BY_CUSTOMER
    if status == "NotAuthed":
        return DECLINED
    if status == "Rejected":
        return REJECTED_BY_RULES
    if status != "Ok":
        return ERROR
    if record["voided"]:
        return VOIDED
    if record["transactionType"] != "Deferred":
        return AUTHORISED
    if record["aborted"]:
        return DEFERRED_ABORTED
    if record["released"]:
        return AUTHORISED  # our assumption: no source says what a released Deferred shows
    if context.clock.now() > parse_iso(record["createdAt"]) + DEFERRED_HOLD:
        return DEFERRED_EXPIRED
    return DEFERRED_AWAITING_RELEASE


# The `status` text that goes with each txstateid (the same Stack Overflow list).
STATE_TEXT: dict[int, str] = {
    ON_CARD_DETAILS_PAGE: "User on the Card Details Entry Page.",
    AT_3D_SECURE: "Transaction at 3D-Secure Authentication Stage.",
    CANCELLED_AFTER_15_MINUTES: "Transaction CANCELLED by Opayo after 15 minutes of inactivity.",
    REJECTED_BY_RULES: "Transaction REJECTED by the Fraud Rules you have in place.",
    ABORTED_BY_CUSTOMER: "Transaction ABORTED by the Customer on the Payment Pages.",
    DECLINED: "Transaction DECLINED by the bank (NOTAUTHED).",
    ERROR: "An ERROR occurred at Opayo which cancelled this transaction.",
    DEFERRED_AWAITING_RELEASE: "Successful DEFERRED transaction, awaiting RELEASE.",
    AUTHORISED: "Successfully authorised transaction.",
    VOIDED: "Transaction VOIDed by the Vendor.",
    DEFERRED_ABORTED: "Successful DEFERRED transaction ABORTED by the Vendor.",
    DEFERRED_EXPIRED: "DEFERRED transaction that expired before it was RELEASEd or ABORTed.",
}
