"""Execution environments of the local runtime: one worker process per concurrent invocation."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runtime import lambda_pool
from local_runtime.lambda_bridge import Invocation, LocalFunction
from local_runtime.lambda_pool import WorkerLambdas

HANDLERS = """
import os
import threading

COLD_STARTS = 0
released = threading.Event()


class PaymentDeclined(Exception):
    pass


def _started():
    global COLD_STARTS
    COLD_STARTS += 1


_started()


def step(event, context):
    if event.get("decline"):
        raise PaymentDeclined("card declined")
    if event.get("hold_until_file"):
        import time
        while not os.path.exists(event["hold_until_file"]):
            time.sleep(0.01)
    if event.get("forever"):
        import time
        time.sleep(3600)
    return {
        "pid": os.getpid(),
        "cold_starts": COLD_STARTS,
        "stage": os.environ["STAGE"],
        "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


@pytest.fixture
def lambdas(tmp_path: Path) -> Iterator[WorkerLambdas]:
    (tmp_path / "handlers.py").write_text(HANDLERS)
    functions = [
        LocalFunction("step", tmp_path, "handlers.step", {"STAGE": "local"}, 30, 256, "arn:step"),
        LocalFunction("quick", tmp_path, "handlers.step", {"STAGE": "other"}, 1, 128, ""),
    ]
    pool = WorkerLambdas(functions, {"PATH": os.environ.get("PATH", "")})
    yield pool
    pool.close()


def test_a_warm_environment_is_reused_with_one_cold_start(lambdas: WorkerLambdas) -> None:
    first, second = (lambdas.invoke("step", {}) for _ in range(2))
    assert first.error_type is None
    assert first.payload["pid"] == second.payload["pid"]
    assert second.payload["cold_starts"] == 1
    assert first.payload["stage"] == "local"  # the function's own environment
    assert first.payload["name"] == "step"
    assert 0 < first.payload["remaining_ms"] <= 30_000
    assert lambdas.environments == 1
    other = lambdas.invoke("quick", {})
    assert other.payload["stage"] == "other"  # another function: another environment
    assert other.payload["pid"] != first.payload["pid"]


def test_overlapping_invocations_run_at_once_in_environments_of_their_own(
    lambdas: WorkerLambdas, tmp_path: Path
) -> None:
    gate = tmp_path / "open"
    seen: list[Invocation] = []
    lambdas.listeners.append(seen.append)
    held = threading.Thread(target=lambdas.invoke, args=("step", {"hold_until_file": str(gate)}))
    held.start()
    # While the first invocation waits, another one of the same function is served.
    meanwhile = lambdas.invoke("step", {})
    assert meanwhile.error_type is None
    assert held.is_alive()
    gate.touch()
    held.join(timeout=30)
    assert not held.is_alive()
    assert len(seen) == 2
    assert len({i.payload["pid"] for i in seen}) == 2
    assert all(i.payload["cold_starts"] == 1 for i in seen)
    assert lambdas.environments == 2
    assert [i.function for i in lambdas.invocations] == ["step", "step"]


def test_errors_and_timeouts_are_reported_as_lambda_reports_them(lambdas: WorkerLambdas) -> None:
    declined = lambdas.invoke("step", {"decline": True})
    assert declined.error_type == "PaymentDeclined"
    assert declined.payload["errorMessage"] == "card declined"
    assert declined.payload["stackTrace"]
    assert lambdas.invoke("step", {}).error_type is None  # the environment survived the error
    assert lambdas.invoke("quick", {}).error_type is None  # warm: its 1 s timeout applies
    timed_out = lambdas.invoke("quick", {"forever": True})
    assert timed_out.error_type == "Sandbox.Timedout"
    assert "timed out after 1.00 seconds" in str(timed_out.error_message)
    assert lambdas.invoke("quick", {}).error_type is None  # a fresh environment next time


INIT_RECORDING = """
import os
import time

with open(os.environ["INIT_LOG"], "a") as log:
    log.write(f"start {time.monotonic()}\\n")
# Some init work, long enough that unbounded cold starts would overlap.
_squares = sum(i * i for i in range(300_000))
with open(os.environ["INIT_LOG"], "a") as log:
    log.write(f"end {time.monotonic()}\\n")


def step(event, context):
    return {"pid": os.getpid()}
"""


def test_cold_starts_are_bounded_and_waiters_take_warm_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However slow this machine is today, nobody gives up waiting for a slot in this test.
    monkeypatch.setattr(lambda_pool, "MAX_COLD_START_WAIT_SECONDS", 600.0)
    (tmp_path / "recording.py").write_text(INIT_RECORDING)
    log = tmp_path / "init.log"
    function = LocalFunction(
        "step", tmp_path, "recording.step", {"INIT_LOG": str(log)}, 30, 128, "arn:step"
    )
    pool = WorkerLambdas([function], {"PATH": os.environ.get("PATH", "")}, max_cold_starts=1)
    try:
        results: list[Invocation] = []
        threads = [
            threading.Thread(target=lambda: results.append(pool.invoke("step", {})))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(results) == 6
        assert all(r.error_type is None for r in results)
        marks = [line.split() for line in log.read_text().splitlines()]
        # One init at a time: every "start" is followed by its own "end".
        assert [kind for kind, _ in marks] == ["start", "end"] * (len(marks) // 2)
        assert pool.environments == len(marks) // 2 <= 6
        times = [float(t) for _, t in marks]
        assert times == sorted(times)
    finally:
        pool.close()
