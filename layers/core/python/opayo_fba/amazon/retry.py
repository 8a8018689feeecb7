"""Retry policy: exponential backoff with full jitter, bounded in attempts and total time.

stamina runs the loop (attempt counting, the total-time bound, instrumentation and its test
mode); we only supply the backoff through its hook, because stamina's own backoff adds a
bounded jitter to the exponential wait whereas "full jitter" draws the whole wait uniformly
from [0, min(cap, base * 2**n)], which spreads a herd of throttled Lambdas best.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import stamina

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Calls in total, the first one included."""
    total_seconds: float = 30.0
    """No retry starts after this many seconds from the first call."""
    base_wait: float = 0.5
    max_wait: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.total_seconds <= 0 or self.base_wait <= 0 or self.max_wait < self.base_wait:
            raise ValueError("RetryPolicy waits must be positive and max_wait >= base_wait")


def full_jitter_backoff(
    policy: RetryPolicy,
    retryable: Callable[[Exception], bool],
    rng: random.Random | None = None,
) -> Callable[[Exception], bool | float]:
    """A stamina backoff hook: False for errors not worth retrying, else the wait in seconds."""
    draw = rng or random.Random()  # noqa: S311 - jitter, not cryptography
    retries = 0

    def hook(error: Exception) -> bool | float:
        nonlocal retries
        if not retryable(error):
            return False
        ceiling = min(policy.max_wait, policy.base_wait * 2**retries)
        retries += 1
        return draw.uniform(0.0, ceiling)

    return hook


def call_with_retries(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    retryable: Callable[[Exception], bool],
    name: str = "call",
) -> T:
    """Run `call`, retrying errors `retryable` accepts, within `policy`'s bounds.

    The last error is re-raised unchanged when the attempts or the time run out.
    """
    for attempt in stamina.retry_context(
        on=full_jitter_backoff(policy, retryable),
        attempts=policy.attempts,
        timeout=policy.total_seconds,
        wait_initial=policy.base_wait,
        wait_max=policy.max_wait,
        wait_jitter=0.0,
    ):
        with attempt:
            return call()
    raise AssertionError(f"unreachable: stamina ended the {name} retries without an outcome")
