"""The decision table from a Pi transaction and its instructions to where the money is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opayo_fba.model import Money, PaymentState
from opayo_fba.opayo.pi import observed_from_pi
from opayo_fba.opayo.results import PiInstruction, PiTransaction

GBP = "GBP"


def _tx(kind: str, status: str = "Ok", amount: int = 2500) -> PiTransaction:
    return PiTransaction(
        transaction_id="T1",
        transaction_type=kind,
        status=status,
        status_code="0000",
        status_detail="",
        amount=Money(amount=amount, currency=GBP),
    )


def _done(kind: str, amount: int | None = None) -> PiInstruction:
    return PiInstruction(kind, amount, datetime(2026, 12, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("transaction", "instructions", "state", "captured"),
    [
        (_tx("Deferred"), [], PaymentState.AUTHORISED, None),
        (_tx("Deferred"), [_done("release", 2000)], PaymentState.CAPTURED, 2000),
        (_tx("Deferred"), [_done("release")], PaymentState.CAPTURED, None),  # amount unknown
        (_tx("Deferred"), [_done("abort")], PaymentState.ABORTED, None),
        (_tx("Payment"), [], PaymentState.CAPTURED, 2500),
        (_tx("Repeat", amount=900), [], PaymentState.CAPTURED, 900),
        (_tx("Payment"), [_done("void")], PaymentState.VOIDED, None),
        (_tx("Deferred", "NotAuthed"), [], PaymentState.DECLINED, None),
        (_tx("Payment", "Rejected"), [], PaymentState.DECLINED, None),
        (_tx("Deferred", "3DAuth"), [], PaymentState.PENDING, None),
        (_tx("Payment", "Error"), [], PaymentState.FAILED, None),
        (_tx("Refund"), [], PaymentState.NONE, None),
    ],
)
def test_observed_state(
    transaction: PiTransaction,
    instructions: list[PiInstruction],
    state: PaymentState,
    captured: int | None,
) -> None:
    observed = observed_from_pi(transaction, instructions)
    assert observed.state is state
    assert observed.captured == (None if captured is None else Money(amount=captured, currency=GBP))
    assert observed.refunded is None  # Pi does not list a transaction's refunds
