"""The console's web app: `create_app(backend, token)`.

Server-rendered pages (Jinja2, autoescaped) that work without JavaScript; htmx, vendored
into static/vendor by the build (`make console-assets`), only refreshes parts of them. Each
page is a module of `pages/` that contributes its routes; every request first passes the
guard (security.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from opayo_fba.console.backend import ConsoleBackend
from opayo_fba.console.security import ConsoleGuard, Sessions

STATIC_DIR = Path(__file__).resolve().parent / "static"
HTMX = STATIC_DIR / "vendor" / "htmx.min.js"


@dataclass(frozen=True)
class Console:
    """What every page's handlers share."""

    backend: ConsoleBackend
    sessions: Sessions
    templates: Environment

    def render(
        self, request: Request | None, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        state = request.state if request is not None else None
        page = self.templates.get_template(name).render(
            {
                "stack_name": self.backend.stack_name,
                "csrf_token": getattr(state, "csrf_token", None),
                "path": request.url.path if request is not None else "",
                **context,
            }
        )
        return HTMLResponse(page, status_code=status)

    def problem(self, request: Request, reason: str, status: int) -> HTMLResponse:
        return self.render(request, "problem.html", {"reason": reason, "status": status}, status)


def _is_web_link(value: object) -> bool:
    """Only http(s) links are rendered as links (never `javascript:` or `data:`)."""
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("opayo_fba.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.tests["web_link"] = _is_web_link
    return environment


def create_app(backend: ConsoleBackend, token: str) -> Starlette:
    """The console on `backend`, opened by `token` (print it in the URL: `/?token=...`)."""
    from opayo_fba.console.pages import (
        dead_letters,
        order_actions,
        orders,
        reconciliation,
        settings,
        today,
    )

    console = Console(backend=backend, sessions=Sessions(token), templates=templates())

    async def home(request: Request) -> Response:
        return RedirectResponse("/orders", status_code=303)

    async def sign_out(request: Request) -> Response:
        console.sessions.close(request.state.session)
        response = console.render(None, "signed_out.html", {})
        response.delete_cookie(console.sessions.cookie_name, path="/")
        return response

    def refuse(reason: str, status: int, sign_in: bool) -> Response:
        context = {"reason": reason, "status": status, "sign_in": sign_in}
        return console.render(None, "refused.html", context, status)

    routes = [
        Route("/", home),
        *today.routes(console),
        *order_actions.routes(console),
        *orders.routes(console),
        *dead_letters.routes(console),
        *reconciliation.routes(console),
        *settings.routes(console),
        Route("/sign-out", sign_out, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(ConsoleGuard, sessions=console.sessions, refuse=refuse)],
    )
