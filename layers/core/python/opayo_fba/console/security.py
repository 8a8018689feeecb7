"""The console's guard: one ASGI middleware every request passes before any page sees it.

In order:
1. The Host header must name loopback (127.0.0.1 or localhost, any port): a page on another
   site whose name an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name
   and is refused with 400.
2. `/static/` (htmx and the stylesheet, nothing private) is served to anyone who gets this
   far, so the refusal page can be styled.
3. `?token=` with the token printed at start (compared with hmac.compare_digest) opens a
   session: an HttpOnly, SameSite=Strict cookie, and a redirect to the same URL without the
   token (so it stays out of the history and of any Referer). A wrong token, or no token and
   no session cookie, is 403 with a page saying where to get the URL.
4. Every request that may change something (POST, PUT, PATCH, DELETE) must come from a page
   of the console itself: its Origin header is this Host, and it carries the session's CSRF
   token (the `csrf_token` form field, or the X-CSRF-Token header htmx sends), compared with
   hmac.compare_digest. Else 403, before the route runs. A multipart form (the one upload,
   of settlement and batch files) carries the token as its first field: the guard reads
   only as far as that field, and the whole body may be up to MAX_UPLOAD_BYTES (past it the
   request is cut off) where any other form is refused past MAX_FORM_BYTES.
5. Every response carries a Content-Security-Policy that allows scripts, styles and images
   from the console only (no inline script or style, no eval), no framing, no Referer to
   another site, and no caching.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
TOKEN_PARAMETER = "token"  # noqa: S105 (the name of the query parameter)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 64 * 1024
MAX_UPLOAD_BYTES = 128 * 1024 * 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Not no-referrer: with it Chromium sends `Origin: null` on the console's own forms.
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

Renderer = Callable[[str, int, bool], Response]
"""Renders a refusal page: (reason, status, whether to say how to sign in) -> Response."""


class Sessions:
    """The console's secrets: the start token, the sessions it opened, their CSRF tokens.

    Held in memory only: stopping the console ends every session, and the next start prints
    a new token.
    """

    def __init__(self, token: str) -> None:
        if len(token) < 16:
            raise ValueError("the console's token must be at least 16 characters")
        self._token = token
        self._key = secrets.token_bytes(32)
        self._open: set[str] = set()
        # Cookies are not kept apart by port: each console's cookie has a name of its own.
        self.cookie_name = "opayo_fba_console_" + hashlib.sha256(token.encode()).hexdigest()[:12]

    def token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self._token.encode())

    def open(self) -> str:
        session = secrets.token_urlsafe(32)
        self._open.add(session)
        return session

    def is_open(self, session: str | None) -> bool:
        return session is not None and any(hmac.compare_digest(session, s) for s in self._open)

    def close(self, session: str) -> None:
        self._open.discard(session)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self._key, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()

    def csrf_matches(self, session: str, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self.csrf_token(session).encode())

    def sign(self, data: bytes) -> str:
        """A MAC of `data` (the list's cursors carry one, so a forged one is refused)."""
        return hmac.new(self._key, b"cursor:" + data, hashlib.sha256).hexdigest()[:32]


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def _cookie(headers: dict[str, str], name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


class ConsoleGuard:
    def __init__(self, app: ASGIApp, sessions: Sessions, refuse: Renderer) -> None:
        self.app = app
        self.sessions = sessions
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_security_headers(send)
        response, receive = await self._check(scope, receive)
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        headers = _headers(scope)
        host = headers.get("host", "")
        if _hostname(host) not in LOOPBACK_HOSTS:
            return PlainTextResponse(
                "This console answers only at http://127.0.0.1 or http://localhost "
                f"(this request named the host {host[:80]!r}).",
                status_code=400,
            ), receive
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/static/") and method in ("GET", "HEAD"):
            return None, receive
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        offered = [value for name, value in query if name == TOKEN_PARAMETER]
        if offered:
            if method != "GET" or not self.sessions.token_matches(offered[0]):
                return self.refuse("That link's token is not this console's.", 403, True), receive
            return self._open_session(path, query), receive
        session = _cookie(headers, self.sessions.cookie_name)
        if not self.sessions.is_open(session):
            return self.refuse("This browser has no session with the console.", 403, True), receive
        assert session is not None
        scope.setdefault("state", {})["session"] = session
        scope["state"]["csrf_token"] = self.sessions.csrf_token(session)
        if method in UNSAFE_METHODS:
            return await self._check_forgery(scope, receive, headers, host, session)
        return None, receive

    def _open_session(self, path: str, query: list[tuple[str, str]]) -> Response:
        rest = urlencode([(n, v) for n, v in query if n != TOKEN_PARAMETER])
        response = RedirectResponse(path + (f"?{rest}" if rest else ""), status_code=303)
        response.set_cookie(
            self.sessions.cookie_name,
            self.sessions.open(),
            httponly=True,
            samesite="strict",
            path="/",
        )
        return response

    async def _check_forgery(
        self, scope: Scope, receive: Receive, headers: dict[str, str], host: str, session: str
    ) -> tuple[Response | None, Receive]:
        origin = headers.get("origin")
        if origin != f"http://{host}":
            return self.refuse(
                "A change must come from a page of this console (its Origin did not match).",
                403,
                False,
            ), receive
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data") and CSRF_HEADER not in headers:
            return await self._check_upload(receive, headers, content_type, session)
        body, receive = await _read_body(receive)
        if body is None:
            return self.refuse("That form is too large.", 413, False), receive
        offered = headers.get(CSRF_HEADER)
        if offered is None and headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            offered = next((value for name, value in form if name == CSRF_FIELD), None)
        if offered is None or not self.sessions.csrf_matches(session, offered):
            return self.refuse(
                "That form was not sent by this console's page (its CSRF token is missing or "
                "wrong). Reload the page and try again.",
                403,
                False,
            ), receive
        return None, receive

    async def _check_upload(
        self, receive: Receive, headers: dict[str, str], content_type: str, session: str
    ) -> tuple[Response | None, Receive]:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            limit = MAX_UPLOAD_BYTES // (1024 * 1024)
            return self.refuse(f"Those files are over {limit} MB together.", 413, False), receive
        boundary = _boundary(content_type)
        head, receive = await _read_head(_capped(receive, MAX_UPLOAD_BYTES), MAX_FORM_BYTES)
        offered = _first_field(head, boundary, CSRF_FIELD) if boundary else None
        if offered is None or not self.sessions.csrf_matches(session, offered):
            return self.refuse(
                "That upload was not sent by this console's page (its CSRF token is missing, "
                "wrong, or not the form's first field). Reload the page and try again.",
                403,
                False,
            ), receive
        return None, receive


def _boundary(content_type: str) -> bytes | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


def _first_field(head: bytes, boundary: bytes, name: str) -> str | None:
    """The value of the multipart body's first part, if that part is the field `name`."""
    opening = b"--" + boundary + b"\r\n"
    if not head.startswith(opening):
        return None
    headers, found, rest = head[len(opening) :].partition(b"\r\n\r\n")
    if not found:
        return None
    disposition = next(
        (h for h in headers.split(b"\r\n") if h.lower().startswith(b"content-disposition:")),
        b"",
    )
    if f'name="{name}"'.encode() not in disposition or b"filename=" in disposition:
        return None
    value, found, _ = rest.partition(b"\r\n--" + boundary)
    return value.decode("utf-8", "replace") if found else None


def _capped(receive: Receive, limit: int) -> Receive:
    """`receive`, ending the request (as a disconnect) once its body passes `limit` bytes."""
    size = 0

    async def capped() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                return {"type": "http.disconnect"}
        return message

    return capped


async def _read_head(receive: Receive, length: int) -> tuple[bytes, Receive]:
    """At least the first `length` bytes of the body (less if it is shorter), and a `receive`
    that replays them before the rest of the body."""
    chunks: list[Message] = []
    size = 0
    while size < length:
        message = await receive()
        chunks.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    head = b"".join(m.get("body", b"") for m in chunks if m["type"] == "http.request")
    pending = list(chunks)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return head, replay


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole request body (None past MAX_FORM_BYTES), and a `receive` that replays it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [
                (name.encode(), value.encode())
                for name, value in SECURITY_HEADERS.items()
                if name.encode() not in present
            ]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending
