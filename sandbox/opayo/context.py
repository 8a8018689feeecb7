"""What every Opayo sandbox handler reaches through `request.app.state.opayo`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.common.clock import SandboxClock
from sandbox.opayo.options import OpayoSandboxOptions
from sandbox.opayo.state import OpayoState

if TYPE_CHECKING:
    from sandbox.opayo.notifications import NotificationDispatcher


@dataclass
class SandboxContext:
    options: OpayoSandboxOptions
    clock: SandboxClock
    state: OpayoState
    dispatcher: NotificationDispatcher | None = field(default=None)
    # The vendor's "Valid IPs" (sandbox/opayo/valid_ips.py); set from the options at start.
    valid_ips: list[str] = field(default_factory=list)
    # Every Shared Protocol post that reached the sandbox, for tests to count (no keys kept).
    shared_posts: list[dict[str, Any]] = field(default_factory=list)
