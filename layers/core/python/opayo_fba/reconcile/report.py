"""report.html: a self-contained page with inline SVG charts (no script, no CDN)."""

from __future__ import annotations

from html import escape

from opayo_fba.model.money import CURRENCY_EXPONENTS
from opayo_fba.reconcile.amounts import format_minor
from opayo_fba.reconcile.engine import ReconcileResult
from opayo_fba.reconcile.matching import REASONS

_BAR_HEIGHT = 22
_LABEL_WIDTH = 330
_CHART_WIDTH = 420
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #cbd2d9; padding: .3rem .6rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #b42318; } .good { color: #067647; }
svg text { font-size: 12px; fill: #1f2933; }
"""


def _money(amount: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{format_minor(amount, exponent)} {currency}"


def bar_chart(
    title: str, bars: list[tuple[str, int, str]], *, alert: frozenset[str] = frozenset()
) -> str:
    """Horizontal bars (label, value, formatted value); negative values extend left of the
    zero line. Bars whose label is in `alert` are drawn in amber (exceptions)."""
    if not bars:
        return f"<p>{escape(title)}: nothing to show.</p>"
    largest = max(abs(value) for _, value, _ in bars) or 1
    has_negative = any(value < 0 for _, value, _ in bars)
    has_positive = any(value > 0 for _, value, _ in bars)
    if has_negative and has_positive:
        zero_x, span = _LABEL_WIDTH + _CHART_WIDTH // 2, _CHART_WIDTH // 2
    elif has_negative:
        zero_x, span = _LABEL_WIDTH + _CHART_WIDTH, _CHART_WIDTH
    else:
        zero_x, span = _LABEL_WIDTH, _CHART_WIDTH
    height = _BAR_HEIGHT * len(bars) + 30
    width = _LABEL_WIDTH + _CHART_WIDTH + 150
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>',
    ]
    for row, (label, value, shown) in enumerate(bars):
        y = 24 + row * _BAR_HEIGHT
        length = round(abs(value) / largest * span)
        x = zero_x if value >= 0 else zero_x - length
        colour = "#b54708" if label in alert else "#2e7d32" if value >= 0 else "#c62828"
        parts.append(f'<text x="0" y="{y + 14}">{escape(label)}</text>')
        parts.append(
            f'<rect x="{x}" y="{y + 3}" width="{max(length, 1)}" height="{_BAR_HEIGHT - 6}" '
            f'fill="{colour}"><title>{escape(label)}: {escape(shown)}</title></rect>'
        )
        parts.append(
            f'<text x="{_LABEL_WIDTH + _CHART_WIDTH + 8}" y="{y + 14}">{escape(shown)}</text>'
        )
    parts.append(
        f'<line x1="{zero_x}" y1="20" x2="{zero_x}" y2="{height - 4}" stroke="#52606d"/></svg>'
    )
    return "\n".join(parts)


def outcome_chart(matched_orders: int, exceptions_by_reason: dict[str, int]) -> str:
    """Matched orders against each reason's exceptions (in amber)."""
    exceptions = [
        (reason.replace("_", " "), count, str(count))
        for reason, count in sorted(exceptions_by_reason.items())
    ]
    return bar_chart(
        "Matched orders vs exceptions",
        [("matched orders", matched_orders, str(matched_orders)), *exceptions],
        alert=frozenset(label for label, _, _ in exceptions),
    )


def render_report(result: ReconcileResult) -> str:
    currencies = sorted({currency for currency, _ in result.category_totals})
    charts = []
    for currency in currencies:
        for title, opayo in (("Amazon amounts by fee category", False), ("Opayo batches", True)):
            bars = [
                (category, amount, _money(amount, currency))
                for (cur, category), amount in sorted(result.category_totals.items())
                if cur == currency and amount and category.startswith("Opayo/") == opayo
            ]
            if bars:
                charts.append(bar_chart(f"{title} ({currency})", bars))
    charts.append(outcome_chart(result.matched_orders, result.exceptions_by_reason))
    entry_rows = "\n".join(
        "<tr>"
        f"<td>{escape(entry.entry_id)}</td><td>{escape(entry.date.date().isoformat())}</td>"
        f"<td>{escape(entry.source_file)}</td>"
        f'<td class="num">{escape(_money(entry.debits, entry.currency))}</td>'
        f'<td class="num">{escape(_money(entry.clearing_minor, entry.currency))}</td>'
        f'<td class="num">{_control(entry.control_total_minor, entry.currency)}</td>'
        f"<td>{_flag(entry.is_balanced() and entry.ties_out())}</td>"
        "</tr>"
        for entry in result.entries
    )
    reason_rows = "\n".join(
        f"<tr><td>{escape(reason)}</td><td>{escape(REASONS.get(reason, ''))}</td>"
        f'<td class="num">{count}</td></tr>'
        for reason, count in sorted(result.exceptions_by_reason.items())
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Reconciliation {escape(result.generated_at.isoformat())}</title>
<style>{_STYLE}</style></head><body>
<h1>Reconciliation report</h1>
<p>Generated {escape(result.generated_at.isoformat())} from
{len(result.settlement_ids)} Amazon settlement(s) and {len(result.batch_ids)} Opayo batch(es):
{result.settlement_rows} settlement rows, {result.batch_transactions} batch transactions,
{result.orders_seen} orders.</p>
{"".join(f"<figure>{chart}</figure>" for chart in charts)}
<h2>Journal entries</h2>
<table><tr><th>entry</th><th>date</th><th>file</th><th>debits</th><th>clearing</th>
<th>provider's total</th><th>balanced and tied out</th></tr>
{entry_rows}</table>
<h2>Exceptions</h2>
<table><tr><th>reason</th><th>meaning</th><th>count</th></tr>
{reason_rows or '<tr><td colspan="3">none</td></tr>'}</table>
<p>Every exception is listed in exceptions.csv.</p>
</body></html>
"""


def _control(amount: int | None, currency: str) -> str:
    return "—" if amount is None else escape(_money(amount, currency))


def _flag(ok: bool) -> str:
    return '<span class="good">yes</span>' if ok else '<span class="bad">NO</span>'
