"""The Settings page: the stack's configuration, read-only (console/facts.py reads it from the
template the stack runs): accounts, vendors, schedules, mapping templates and their versions,
policies, and what to register with Opayo (each vendor's webhook URL, the egress IP)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from opayo_fba.console.app import Console


def routes(console: Console) -> list[Route]:
    async def settings(request: Request) -> Response:
        facts = console.backend.facts()
        return console.render(
            request,
            "settings.html",
            {"facts": facts, "webhooks": facts.webhook_urls()},
        )

    return [Route("/settings", settings)]
