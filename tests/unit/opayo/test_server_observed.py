"""Where a Server transaction's money is, from getTransactionDetail: a PAYMENT is captured
from the moment it is authorised (nothing to release), a DEFERRED only once released."""

from __future__ import annotations

import pytest

from opayo_fba.model import Money, PaymentState
from opayo_fba.opayo.reporting import TransactionDetail
from opayo_fba.opayo.server_payment import observed_from_reporting


def _detail(transaction_type: str, tx_state_id: str) -> TransactionDetail:
    return TransactionDetail.from_values(
        {
            "vpstxid": "{11111111-2222-3333-4444-555555555555}",
            "vendortxcode": "SRV-1",
            "transactiontype": transaction_type,
            "status": "OK",
            "txstateid": tx_state_id,
            "amount": "18.50",
            "currency": "GBP",
        }
    )


@pytest.mark.parametrize(
    ("transaction_type", "tx_state_id", "state", "captured"),
    [
        ("PAYMENT", "16", PaymentState.CAPTURED, 1850),
        ("Payment", "16", PaymentState.CAPTURED, 1850),
        # The notification is still waiting for our answer: the money is taken already.
        ("PAYMENT", "7", PaymentState.CAPTURED, 1850),
        ("PAYMENT", "18", PaymentState.VOIDED, None),
        ("PAYMENT", "12", PaymentState.DECLINED, None),
        ("DEFERRED", "14", PaymentState.AUTHORISED, None),
        ("DEFERRED", "7", PaymentState.AUTHORISED, None),
    ],
)
def test_observed_state(
    transaction_type: str, tx_state_id: str, state: PaymentState, captured: int | None
) -> None:
    observed = observed_from_reporting(_detail(transaction_type, tx_state_id))
    assert observed.state is state
    expected = None if captured is None else Money(amount=captured, currency="GBP")
    assert observed.captured == expected
