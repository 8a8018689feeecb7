"""Serving the console: on 127.0.0.1 only, in the foreground (`opayo-fba console`) or in a
thread (`opayo-fba local up`, the tests). No option names another address: the console is
for the operator's own machine, and nothing on the network can reach it.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

LOOPBACK = "127.0.0.1"


def new_token() -> str:
    """The token printed in the console's URL: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def console_url(port: int, token: str) -> str:
    return f"http://{LOOPBACK}:{port}/?token={token}"


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (`port` 0: a free one). OSError if the port is taken.

    Its protocol is named (IPPROTO_TCP), not left 0: asyncio turns Nagle's algorithm off
    (TCP_NODELAY) only on sockets whose protocol says TCP, and with it on, a response sent
    in two writes (headers, then body) waited some 40 ms for the client's delayed ACK."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


class ConsoleServer:
    """uvicorn serving `app` on a socket bound to 127.0.0.1 before it starts (so the port,
    and the URL, are known before the first request)."""

    def __init__(self, app: ASGIApp, port: int = 0) -> None:
        self.socket = bind_loopback(port)
        self.port: int = self.socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                lifespan="off",
                access_log=False,
                timeout_graceful_shutdown=1,
            )
        )
        self._thread: threading.Thread | None = None

    def serve(self) -> None:
        """In the foreground until Ctrl-C (uvicorn stops on SIGINT and returns)."""
        self._server.run(sockets=[self.socket])

    def start(self, timeout: float = 10.0) -> None:
        """In a daemon thread; returns once it accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()
