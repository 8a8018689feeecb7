"""Full-jitter backoff, bounded attempts, and which errors are worth a retry."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import stamina

from opayo_fba.amazon.retry import RetryPolicy, call_with_retries, full_jitter_backoff


class Flaky(Exception):
    pass


class Fatal(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_backoff_sleeps() -> Iterator[None]:
    # Testing mode: no waits, and the policy's own attempt count (capped, not replaced).
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


def test_full_jitter_draws_the_whole_wait_below_a_doubling_capped_ceiling() -> None:
    policy = RetryPolicy(attempts=10, base_wait=0.5, max_wait=4.0)
    hook = full_jitter_backoff(policy, lambda e: isinstance(e, Flaky), random.Random(7))
    waits = [hook(Flaky()) for _ in range(6)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert isinstance(wait, float)
        assert 0.0 <= wait <= ceiling
    assert hook(Fatal()) is False


def test_retries_until_success() -> None:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Flaky
        return "done"

    result = call_with_retries(
        call, policy=RetryPolicy(attempts=5), retryable=lambda e: isinstance(e, Flaky)
    )
    assert result == "done"
    assert len(calls) == 3


def test_gives_up_after_the_attempts_and_reraises_the_last_error() -> None:
    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise Flaky(len(calls))

    with pytest.raises(Flaky) as caught:
        call_with_retries(
            call, policy=RetryPolicy(attempts=4), retryable=lambda e: isinstance(e, Flaky)
        )
    assert len(calls) == 4
    assert caught.value.args == (4,)


def test_does_not_retry_errors_that_cannot_heal() -> None:
    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise Fatal

    with pytest.raises(Fatal):
        call_with_retries(
            call, policy=RetryPolicy(attempts=4), retryable=lambda e: isinstance(e, Flaky)
        )
    assert len(calls) == 1


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="max_wait"):
        RetryPolicy(base_wait=2, max_wait=1)
