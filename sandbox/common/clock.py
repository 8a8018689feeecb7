"""A clock that the sandboxes' state machines read instead of the wall clock.

It runs at real speed, accelerated by a factor, or frozen (factor 0), and can be jumped
forward with `advance`, so tests move orders from Received to Complete without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    def __init__(self, factor: float = 1.0, start: datetime | None = None) -> None:
        if factor < 0:
            raise ValueError("clock factor must be >= 0 (0 freezes the clock)")
        if start is not None and start.tzinfo is None:
            raise ValueError("clock start must be timezone-aware")
        self._lock = threading.Lock()
        self._base_virtual = start or datetime.now(UTC)
        self._base_real = time.monotonic()
        self._factor = factor

    @property
    def factor(self) -> float:
        return self._factor

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        elapsed = (time.monotonic() - self._base_real) * self._factor
        return self._base_virtual + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        """Jump forward; the clock never goes backwards."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._base_virtual = self._now_locked() + timedelta(seconds=seconds)
            self._base_real = time.monotonic()
            return self._base_virtual

    def set_factor(self, factor: float) -> None:
        if factor < 0:
            raise ValueError("clock factor must be >= 0 (0 freezes the clock)")
        with self._lock:
            self._base_virtual = self._now_locked()
            self._base_real = time.monotonic()
            self._factor = factor

    def monotonic(self) -> float:
        """Seconds on the virtual clock, for token buckets and timers."""
        return self.now().timestamp()
