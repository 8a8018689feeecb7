"""The Today page: one seller account's day and its last 30 days (ops/today.py, from the
daily rollups the order writes keep: no order is read), with what `opayo-fba status` shows
of the whole stack: open authorisations, dead letters, last polls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opayo_fba.ops.status import VendorHolds
from opayo_fba.ops.today import Day, TodaySummary

if TYPE_CHECKING:
    from opayo_fba.console.app import Console

CHART_WIDTH = 600
CHART_HEIGHT = 120
SERIES = (("received", "Received"), ("shipped", "Shipped"), ("compensated", "Compensated"))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    """A bar chart drawn on the server as SVG (no script, no chart library), with the same
    figures as a table beside it for screen readers and for copying."""

    name: str
    title: str
    peak: int
    bars: list[Bar]


def chart(name: str, title: str, days: list[Day]) -> Chart:
    values = [int(getattr(d, name)) for d in days]
    peak = max(values, default=0)
    slot = CHART_WIDTH / max(len(days), 1)
    bars = []
    for n, (day, value) in enumerate(zip(days, values, strict=True)):
        height = (value / peak) * (CHART_HEIGHT - 4) if peak else 0
        bars.append(
            Bar(
                x=round(n * slot + 1, 1),
                y=round(CHART_HEIGHT - height, 1),
                width=round(slot - 2, 1),
                height=round(height, 1),
                label=f"{day.day.isoformat()}: {value}",
            )
        )
    return Chart(name, title, peak, bars)


def routes(console: Console) -> list[Route]:
    async def today(request: Request) -> Response:
        accounts = console.backend.seller_accounts()
        account = request.query_params.get("account", "") or next(iter(accounts), "")
        if account not in accounts:
            known = ", ".join(accounts) or "none"
            return console.problem(
                request, f"account must be one of this stack's seller accounts ({known}).", 400
            )
        now = datetime.now(UTC)
        backend = console.backend

        def orders_side() -> tuple[TodaySummary, list[VendorHolds]]:
            held = backend.held_index()  # one read for the held figures of both sections
            return backend.today(account, now, held), backend.open_authorisations(held)

        # The three reads touch different tables and services: side by side, the page waits
        # for the slowest, not for their sum.
        (summary, holds), queues, polls = await asyncio.gather(
            run_in_threadpool(orders_side),
            run_in_threadpool(backend.dead_letter_queues),
            run_in_threadpool(backend.last_polls),
        )
        context = {
            "summary": summary,
            "account": account,
            "accounts": accounts,
            "charts": [chart(name, title, summary.days) for name, title in SERIES],
            "chart_width": CHART_WIDTH,
            "chart_height": CHART_HEIGHT,
            "holds": holds,
            "queues": queues,
            "dead_letters": sum(q.messages for q in queues),
            "polls": polls,
            "midnight": datetime.combine(now.date(), time.min, UTC),
            "now": now,
        }
        return console.render(request, "today.html", context)

    return [Route("/today", today)]
