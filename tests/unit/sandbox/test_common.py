from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.common.clock import SandboxClock
from sandbox.common.control import control_routes
from sandbox.common.faults import FaultConfig, FaultInjector, FaultKind, FaultRule, with_faults
from sandbox.common.server import ThreadedServer
from sandbox.common.store import StateStore

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_frozen_clock_moves_only_when_advanced() -> None:
    clock = SandboxClock(factor=0, start=START)
    assert clock.now() == START
    clock.advance(90)
    assert clock.now() == START + timedelta(seconds=90)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


def test_fault_injection_is_deterministic_for_a_seed() -> None:
    config = FaultConfig(
        seed=7, rules=[FaultRule(operation="op", kind=FaultKind.THROTTLE, probability=0.5)]
    )
    first = FaultInjector(config)
    second = FaultInjector(config)
    runs = [[inj.decide("op") is not None for _ in range(50)] for inj in (first, second)]
    assert runs[0] == runs[1]
    assert 5 < sum(runs[0]) < 45
    assert first.decide("other") is None


def test_fault_rule_times_limits_firing() -> None:
    injector = FaultInjector(
        FaultConfig(rules=[FaultRule(kind=FaultKind.SERVER_ERROR, probability=1.0, times=2)])
    )
    assert [injector.decide("x") is not None for _ in range(4)] == [True, True, False, False]


def test_store_persists_to_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "state.sqlite")
    store = StateStore(path)
    store.put("order", "A", {"status": "Received"})
    store.close()
    reopened = StateStore(path)
    assert reopened.get("order", "A") == {"status": "Received"}
    assert reopened.get("order", "B") is None


def _app() -> Starlette:
    counter = {"commits": 0}

    async def commit(request: Request) -> Response:
        counter["commits"] += 1
        return JSONResponse(counter)

    def error(status: int, code: str, message: str) -> Response:
        return JSONResponse({"errors": [{"code": code, "message": message}]}, status)

    app = Starlette(
        routes=[
            Route(
                "/commit",
                with_faults("commit", commit, error, lost_response_hang_seconds=5),
                methods=["POST"],
            ),
            *control_routes(),
        ]
    )
    app.state.clock = SandboxClock(factor=0, start=START)
    app.state.faults = FaultInjector()
    app.state.counter = counter
    return app


def test_served_faults_over_http() -> None:
    app = _app()
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=1.0) as client:
        assert client.post("/commit").json() == {"commits": 1}
        client.post("/_sandbox/faults", json={"rules": [{"kind": "throttle", "times": 1}]})
        throttled = client.post("/commit")
        assert throttled.status_code == 429
        assert throttled.json()["errors"][0]["code"] == "QuotaExceeded"
        client.post("/_sandbox/faults", json={"rules": [{"kind": "drop", "times": 1}]})
        with pytest.raises(httpx.TransportError):
            client.post("/commit")
        assert app.state.counter["commits"] == 1  # a dropped call changes nothing
        client.post("/_sandbox/faults", json={"rules": [{"kind": "lost_response", "times": 1}]})
        with pytest.raises(httpx.TimeoutException):
            client.post("/commit", timeout=0.3)
        assert app.state.counter["commits"] == 2  # committed, though the client never heard
        advanced = client.post("/_sandbox/clock/advance", json={"seconds": 60}).json()
        assert advanced["now"] == (START + timedelta(seconds=60)).isoformat()
        bad = client.post("/_sandbox/clock/advance", json={"seconds": -5})
        assert bad.status_code == 400
