"""Shorten Step Functions Wait, Retry and task-token timeouts by a time factor.

moto's interpreter sleeps for real: `WaitFunction._wait_interval` waits on the execution's
event, and the retrier calls `time.sleep(interval)`. The definition stays exactly as
synthesized (so what runs locally is what deploys); only the interpreter's clock is scaled.
Both hooks are pinned by tests, so a moto upgrade that moves them fails loudly.
"""

from __future__ import annotations

import time as _real_time
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

_original_wait_interval = WaitFunction._wait_interval
_original_callback_wait = CallbackEndpoint.wait
_factor = 1.0


class _ScaledTime:
    """Stands in for the `time` module inside moto's retrier."""

    def sleep(self, seconds: float) -> None:
        _real_time.sleep(max(0.0, seconds) / _factor)

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_time, name)


def _scaled_wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
    if wait_seconds > 0:
        # Returns early when the execution is stopped, as the original does.
        env.program_state_event.wait(wait_seconds / _factor)


def _scaled_callback_wait(self: CallbackEndpoint, timeout: float | None = None) -> Any:
    # A task token's TimeoutSeconds (e.g. the saga's poll interval) passes at the same pace.
    return _original_callback_wait(self, None if timeout is None else timeout / _factor)


def install(factor: float) -> None:
    """Run Wait and Retry delays `factor` times faster (1 = real time)."""
    global _factor
    if factor <= 0:
        raise ValueError("the time factor must be positive")
    if not (
        hasattr(retrier_decl, "time")
        and hasattr(WaitFunction, "_wait_interval")
        and hasattr(CallbackEndpoint, "wait")
    ):
        raise RuntimeError("moto's Step Functions interpreter changed: cannot scale its delays")
    _factor = factor
    setattr(retrier_decl, "time", _ScaledTime())  # noqa: B010 - replacing a module global
    WaitFunction._wait_interval = _scaled_wait_interval  # type: ignore[method-assign]
    CallbackEndpoint.wait = _scaled_callback_wait  # type: ignore[method-assign]


def uninstall() -> None:
    global _factor
    _factor = 1.0
    setattr(retrier_decl, "time", _real_time)  # noqa: B010 - restoring a module global
    WaitFunction._wait_interval = _original_wait_interval  # type: ignore[method-assign]
    CallbackEndpoint.wait = _original_callback_wait  # type: ignore[method-assign]
