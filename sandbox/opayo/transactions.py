"""The Pi transaction rules: create Payment/Deferred/Repeat/Refund, and the instructions.

Rules enforced here (each refused with a reason and no state change):
- vendorTxCode is unique across every transaction the vendor ever sent;
- `release`: Deferred only, once, 0 < amount <= authorised amount, within 30 days, not aborted;
- `abort`: Deferred only, before release;
- `void`: Payment, Repeat or Refund, on the day of the transaction (before 00:00 settlement),
  and a payment only while no refund against it stands;
- a Refund never exceeds captured minus refunded on the original transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.opayo import errors
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.errors import PiError
from sandbox.opayo.outcomes import OK, Outcome
from sandbox.opayo.state import Record, iso, parse_iso, vps_tx_id

DEFERRED_HOLD = timedelta(days=30)
TRANSACTION_TYPES = ("Payment", "Deferred", "Repeat", "Refund")
INSTRUCTION_TYPES = ("release", "abort", "void")


def new_record(
    context: SandboxContext,
    *,
    transaction_id: str,
    transaction_type: str,
    vendor_tx_code: str,
    amount: int,
    currency: str,
    description: str,
    outcome: Outcome,
    integration: str,
) -> Record:
    now = context.clock.now()
    sequence = context.state.next_sequence("transaction")
    return {
        "transactionId": transaction_id,
        "vpsTxId": vps_tx_id(transaction_id),
        "sequence": sequence,
        "integration": integration,
        "transactionType": transaction_type,
        "vendorTxCode": vendor_tx_code,
        "amount": amount,
        "currency": currency,
        "description": description,
        "createdAt": iso(now),
        "retrievalReference": 8000000 + sequence,
        "card": None,
        "avsCvcCheck": None,
        "threeDSecureStatus": "NotChecked",
        "referenceTransactionId": None,
        "released": False,
        "releasedAmount": None,
        "releasedAt": None,
        "aborted": False,
        "abortedAt": None,
        "voided": False,
        "voidedAt": None,
        "settleableAt": None,
        "instructions": [],
        "refundIds": [],
        "batchId": None,
        **outcome_fields(outcome),
    }


def outcome_fields(outcome: Outcome) -> dict[str, Any]:
    ok = outcome is OK
    return {
        "status": outcome.status,
        "statusCode": outcome.status_code,
        "statusDetail": outcome.status_detail,
        "bankResponseCode": "00" if ok else ("05" if outcome.status == "NotAuthed" else None),
        "bankAuthorisationCode": "999777" if ok else None,
    }


def apply_outcome(record: Record, outcome: Outcome, now: datetime) -> None:
    record.update(outcome_fields(outcome))
    if outcome is OK and record["transactionType"] in ("Payment", "Repeat", "Refund"):
        record["settleableAt"] = iso(now)


def captured_amount(record: Record) -> int:
    if record["status"] != "Ok" or record["voided"]:
        return 0
    if record["transactionType"] == "Deferred":
        return int(record["releasedAmount"] or 0)
    if record["transactionType"] in ("Payment", "Repeat"):
        return int(record["amount"])
    return 0


def refunded_amount(context: SandboxContext, record: Record) -> int:
    total = 0
    for refund_id in record["refundIds"]:
        refund = context.state.transaction(refund_id)
        if refund and refund["status"] == "Ok" and not refund["voided"]:
            total += int(refund["amount"])
    return total


# rule: OPAYO-PI-07
def check_reference_for_refund(
    context: SandboxContext, reference: Record, amount: int, currency: str
) -> None:
    if reference["transactionType"] not in ("Payment", "Repeat", "Deferred"):
        raise PiError.field(
            "referenceTransactionId",
            f"A {reference['transactionType']} transaction cannot be refunded",
        )
    if reference["status"] != "Ok" or reference["voided"]:
        raise PiError.field(
            "referenceTransactionId", "Only a successful, unvoided transaction can be refunded"
        )
    if reference["transactionType"] == "Deferred" and not reference["released"]:
        raise PiError.field(
            "referenceTransactionId", "A Deferred transaction must be released before a refund"
        )
    if currency != reference["currency"]:
        raise PiError.field(
            "currency", f"The refund currency must be {reference['currency']}, as the original"
        )
    available = captured_amount(reference) - refunded_amount(context, reference)
    if amount > available:
        raise PiError.field(
            "amount",
            f"The refund of {amount} exceeds the {available} still refundable "
            "(captured minus refunded)",
            errors.AMOUNT_EXCEEDS,
        )


# rule: OPAYO-PI-08
def check_reference_for_repeat(reference: Record) -> None:
    """Another amount or currency than the original's is allowed (Elavon, "REPEAT
    Transactions"); the original must be a Payment, a Repeat or a released Deferred."""
    if reference["transactionType"] not in ("Payment", "Repeat", "Deferred"):
        raise PiError.field(
            "referenceTransactionId",
            f"A {reference['transactionType']} transaction cannot be repeated",
        )
    if reference["status"] != "Ok" or reference["voided"] or reference["aborted"]:
        raise PiError.field(
            "referenceTransactionId", "Only a successful, unvoided transaction can be repeated"
        )
    if reference["transactionType"] == "Deferred" and not reference["released"]:
        raise PiError.field(
            "referenceTransactionId", "A Deferred transaction must be released before a repeat"
        )
    if reference.get("card") is None:
        raise PiError.field("referenceTransactionId", "The original transaction has no card")


def _refuse(description: str) -> PiError:
    return PiError.single(403, errors.INSTRUCTION_REFUSED, description)


# rule: OPAYO-PI-13
def apply_instruction(
    context: SandboxContext, record: Record, instruction_type: str, amount: int | None
) -> dict[str, Any]:
    """Check and apply one instruction to `record` (saved by the caller). Returns its JSON."""
    now = context.clock.now()
    kind = record["transactionType"]
    if record["status"] != "Ok":
        raise _refuse(f"Instructions apply only to successful transactions, not {record['status']}")
    # rule: OPAYO-PI-10
    if instruction_type == "release":
        if kind != "Deferred":
            raise _refuse(f"Only a Deferred transaction can be released, not a {kind}")
        if record["aborted"]:
            raise _refuse("The transaction was aborted and cannot be released")
        if record["released"]:
            raise _refuse("The transaction has already been released; it can be released once")
        if now > parse_iso(record["createdAt"]) + DEFERRED_HOLD:
            raise _refuse("The Deferred transaction is older than 30 days and can't be released")
        release = record["amount"] if amount is None else amount
        if release > record["amount"]:
            raise PiError.field(
                "amount",
                f"The release amount {release} exceeds the authorised amount {record['amount']}",
                errors.AMOUNT_EXCEEDS,
            )
        record.update(
            released=True, releasedAmount=release, releasedAt=iso(now), settleableAt=iso(now)
        )
    # rule: OPAYO-PI-11
    elif instruction_type == "abort":
        if kind != "Deferred":
            raise _refuse(f"Only a Deferred transaction can be aborted, not a {kind}")
        if record["released"]:
            raise _refuse("The transaction has already been released and cannot be aborted")
        if record["aborted"]:
            raise _refuse("The transaction has already been aborted")
        record.update(aborted=True, abortedAt=iso(now))
    else:
        _check_void(context, record, now)
        record.update(voided=True, voidedAt=iso(now))
    instruction: dict[str, Any] = {"instructionType": instruction_type, "date": iso(now)}
    if instruction_type == "release":
        instruction["amount"] = record["releasedAmount"]
    record["instructions"].append(instruction)
    return instruction


# rule: OPAYO-PI-12
def _check_void(context: SandboxContext, record: Record, now: datetime) -> None:
    kind = record["transactionType"]
    if kind not in ("Payment", "Repeat", "Refund"):
        raise _refuse(f"A {kind} transaction cannot be voided; abort it instead")
    if record["voided"]:
        raise _refuse("The transaction has already been voided")
    settleable = parse_iso(record["settleableAt"] or record["createdAt"])
    if now.date() != settleable.date() or record["batchId"] is not None:
        raise _refuse("A transaction can be voided only on the day it was made, before settlement")
    if kind != "Refund" and refunded_amount(context, record) > 0:
        raise _refuse("The transaction has refunds against it; void the refunds first")
