"""Property: whatever the rows, every entry balances in its currency and ties out."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opayo_fba.model.money import Money
from opayo_fba.reconcile.amazon import SettlementParser
from opayo_fba.reconcile.config import ReconcileConfig
from opayo_fba.reconcile.engine import Reconciler
from opayo_fba.reconcile.journal import balances_by_currency
from opayo_fba.reconcile.opayo import BatchParser
from tests.unit.reconcile.builders import batch_xml, config, row, settlement_lines, transaction

CHART: ReconcileConfig = config()
CURRENCIES = ("GBP", "EUR", "JPY", "BHD")
AMOUNT_TYPES = [(m.amount_type, m.amount_description) for m in CHART.amazon] + [
    ("NewType", "Never seen"),
    ("ItemFees", "SomethingNew"),
]

amazon_rows = st.lists(
    st.tuples(
        st.sampled_from(AMOUNT_TYPES),
        st.integers(min_value=-(10**9), max_value=10**9),
        st.sampled_from(["", "MCF-1", "MCF-2", "MCF-3"]),
        st.sampled_from(["Order", "Refund", "other-transaction"]),
    ),
    max_size=25,
)
batch_items = st.lists(
    st.tuples(
        st.sampled_from(["MCF-1", "MCF-2", "MCF-4"]),
        st.integers(min_value=0, max_value=10**9),
        st.sampled_from(["Payment", "Refund", "Deferred"]),
        st.sampled_from(["VISA", "AMEX", "MAESTRO", "DELTA"]),
        st.sampled_from(("GBP", "EUR", "USD")),
    ),
    max_size=25,
)


def _text(minor: int, currency: str) -> str:
    return Money(amount=minor, currency=currency).format()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    settlements=st.lists(st.tuples(st.sampled_from(CURRENCIES), amazon_rows), max_size=3),
    items=batch_items,
    decimal_comma=st.booleans(),
)
def test_every_entry_balances_in_every_currency_and_ties_out(
    settlements: list[tuple[str, list[tuple[tuple[str, str], int, str, str]]]],
    items: list[tuple[str, int, str, str, str]],
    decimal_comma: bool,
) -> None:
    reconciler = Reconciler(CHART)
    expected_clearing = {}
    for number, (currency, rows) in enumerate(settlements):
        cells = []
        for (amount_type, description), minor, order, transaction_type in rows:
            text = _text(minor, currency)
            cells.append(row(
                transaction_type=transaction_type, merchant_order_id=order,
                amount_type=amount_type,
                amount_description="" if description == "*" else description,
                amount=text.replace(".", ",") if decimal_comma else text,
            ))  # fmt: skip
        total = sum(minor for _, minor, _, _ in rows)
        settlement_id = f"S{number}"
        expected_clearing[f"AMZ-{settlement_id}"] = total
        lines = settlement_lines(
            cells, total=_text(total, currency), currency=currency, settlement_id=settlement_id
        )
        reconciler.add_settlement(SettlementParser(lines, f"{settlement_id}.txt"))
    totals = ""
    for currency in sorted({currency for *_, currency in items}):
        mine = [(minor, kind) for _, minor, kind, _, c in items if c == currency]
        gross = sum(-minor if kind == "Refund" else minor for minor, kind in mine)
        totals += (
            f"<total><currency>{currency}</currency><count>{len(mine)}</count>"
            f"<gross>{_text(gross, currency)}</gross></total>"
        )
    document = batch_xml(
        (transaction(order if kind != "Refund" else f"RF-{order}",
                     _text(-minor if kind == "Refund" else minor, currency),
                     kind=kind, card=card, currency=currency,
                     related=order if kind == "Refund" else "")
         for order, minor, kind, card, currency in items),
        totals=totals,
    )  # fmt: skip
    reconciler.add_batch(BatchParser(io.BytesIO(document.encode()), "b.xml"))
    result = reconciler.finish()

    for entry in result.entries:
        assert entry.is_balanced(), entry
        assert all(line.debit_minor >= 0 and line.credit_minor >= 0 for line in entry.lines)
        assert all((line.debit_minor == 0) != (line.credit_minor == 0) for line in entry.lines)
        assert entry.ties_out()
        if entry.source_kind == "amazon-settlement":
            assert entry.clearing_minor == expected_clearing[entry.entry_id]
    assert all(balance == 0 for balance in balances_by_currency(result.entries).values())
    assert result.exceptions_by_reason["batch_total_mismatch"] == 0
    assert result.exceptions_by_reason["settlement_total_mismatch"] == 0
    for currency in {currency for *_, currency in items}:
        (batch,) = [e for e in result.entries if e.source_kind == "opayo-batch"
                    and e.currency == currency]  # fmt: skip
        captured = sum(m for _, m, k, _, c in items if c == currency and k != "Refund")
        refunded = sum(m for _, m, k, _, c in items if c == currency and k == "Refund")
        fees = sum(line.debit_minor for line in batch.lines if line.account == CHART.opayo.fees)
        assert batch.clearing_minor == captured - refunded - fees
        assert batch.control_total_minor == batch.clearing_minor
    unknown = {(t, d) for (t, d), *_ in (r for _, rows in settlements for r in rows)} & {
        ("NewType", "Never seen")
    }
    assert bool(unknown) == (result.exceptions_by_reason["unknown_amount_type"] > 0)
