"""Seeded, deterministic fault injection for the sandboxes.

A rule says, for one operation (or `*` for all), with what probability a call fails and how:
  - `server_error` (HTTP 500), `unavailable` (503), `throttle` (429): nothing is changed;
  - `delay`: the call succeeds after `delay_seconds`;
  - `drop`: the connection closes with no response; nothing is changed;
  - `lost_response`: the change IS made, then the client hears nothing until it times out.
The same seed and the same sequence of calls give the same faults.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class FaultKind(StrEnum):
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    THROTTLE = "throttle"
    DELAY = "delay"
    DROP = "drop"
    LOST_RESPONSE = "lost_response"


class FaultRule(BaseModel):
    operation: str = "*"
    kind: FaultKind
    probability: float = Field(ge=0.0, le=1.0, default=1.0)
    delay_seconds: float = Field(ge=0.0, le=120.0, default=0.0)
    # How many times the rule may fire; None means no limit.
    times: int | None = Field(default=None, ge=1)


class FaultConfig(BaseModel):
    seed: int = 0
    rules: list[FaultRule] = Field(default_factory=list)


class FaultInjector:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._rng = random.Random(0)
        self._fired: list[int] = []
        self.history: list[tuple[str, FaultKind]] = []
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._fired = [0] * len(config.rules)
            self.history = []

    @property
    def config(self) -> FaultConfig:
        return self._config

    def decide(self, operation: str) -> FaultRule | None:
        """The fault to inject into this call of `operation`, if any (first matching rule)."""
        with self._lock:
            for index, rule in enumerate(self._config.rules):
                if rule.operation not in ("*", operation):
                    continue
                if rule.times is not None and self._fired[index] >= rule.times:
                    continue
                if self._rng.random() < rule.probability:
                    self._fired[index] += 1
                    self.history.append((operation, rule.kind))
                    return rule
            return None


class DroppedConnection(Exception):
    """Raised after the response has started, so the server closes the connection."""


class DropConnectionResponse(Response):
    """Starts a response and then breaks it off, so the client sees a broken connection.

    With `hang_seconds`, it first waits (bounded) for the client to give up, so the client
    sees a read timeout rather than a reset: the shape of "committed, response lost".
    """

    def __init__(self, hang_seconds: float = 0.0) -> None:
        super().__init__(content=b"", status_code=200)
        self.hang_seconds = hang_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hang_seconds > 0:
            try:
                async with asyncio.timeout(self.hang_seconds):
                    while (await receive())["type"] != "http.disconnect":
                        pass
            except TimeoutError:
                pass
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1048576")],
            }
        )
        raise DroppedConnection("sandbox fault injection: connection dropped")


ErrorResponder = Callable[[int, str, str], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def with_faults(
    operation: str,
    endpoint: Endpoint,
    error_response: ErrorResponder,
    *,
    lost_response_hang_seconds: float = 30.0,
) -> Endpoint:
    """Wrap a Starlette endpoint so the app's FaultInjector (`app.state.faults`) applies.

    `error_response(status, code, message)` renders an error in the service's own shape.
    """

    async def faulty_endpoint(request: Request) -> Response:
        injector: FaultInjector = request.app.state.faults
        rule = injector.decide(operation)
        if rule is None:
            return await endpoint(request)
        if rule.kind is FaultKind.SERVER_ERROR:
            return error_response(500, "InternalFailure", "Injected server error")
        if rule.kind is FaultKind.UNAVAILABLE:
            return error_response(503, "ServiceUnavailable", "Injected unavailability")
        if rule.kind is FaultKind.THROTTLE:
            return error_response(429, "QuotaExceeded", "You exceeded your quota (injected)")
        if rule.kind is FaultKind.DELAY:
            await asyncio.sleep(rule.delay_seconds)
            return await endpoint(request)
        if rule.kind is FaultKind.DROP:
            return DropConnectionResponse()
        # LOST_RESPONSE: commit the change, then never answer.
        await endpoint(request)
        return DropConnectionResponse(hang_seconds=lost_response_hang_seconds)

    return faulty_endpoint


def describe(injector: FaultInjector) -> dict[str, Any]:
    return {
        "config": injector.config.model_dump(mode="json"),
        "fired": [{"operation": op, "kind": kind.value} for op, kind in injector.history],
    }
