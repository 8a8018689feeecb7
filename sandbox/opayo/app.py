"""The Opayo sandbox's Starlette app: `create_app(options)`; `close_app(app)` when done."""

from __future__ import annotations

from starlette.applications import Starlette

from sandbox.common.clock import SandboxClock
from sandbox.common.control import control_routes
from sandbox.common.faults import FaultInjector
from sandbox.common.store import StateStore
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.introspection import introspection_routes
from sandbox.opayo.notifications import NotificationDispatcher
from sandbox.opayo.options import OpayoSandboxOptions
from sandbox.opayo.pi import pi_routes
from sandbox.opayo.reporting import reporting_routes
from sandbox.opayo.server_integration import server_routes
from sandbox.opayo.shared_protocol import shared_protocol_routes
from sandbox.opayo.state import PENDING_NOTIFICATION, PENDING_REGISTRATION, OpayoState
from sandbox.opayo.three_d_secure import acs_routes
from sandbox.opayo.valid_ips import ValidIps, valid_ip_routes


def create_app(options: OpayoSandboxOptions | None = None) -> Starlette:
    options = options or OpayoSandboxOptions()
    hang = options.lost_response_hang_seconds
    app = Starlette(
        routes=[
            *pi_routes(hang),
            *acs_routes(),
            *server_routes(hang),
            *shared_protocol_routes(hang),
            *reporting_routes(hang),
            *introspection_routes(),
            *valid_ip_routes(),
            *control_routes(),
        ]
    )
    clock = SandboxClock(factor=options.clock_factor, start=options.clock_start)
    context = SandboxContext(
        options=options,
        clock=clock,
        state=OpayoState(StateStore(options.sqlite_path)),
        valid_ips=ValidIps(ips=options.valid_ips).ips,
    )
    context.dispatcher = NotificationDispatcher(context, options.notification_faults)
    store = context.state.store
    if store.keys(PENDING_NOTIFICATION) or store.keys(PENDING_REGISTRATION):
        # Reopened from SQLite with work outstanding: carry on delivering.
        context.dispatcher.ensure_started()
    app.state.clock = clock
    app.state.faults = FaultInjector(options.faults)
    app.state.opayo = context
    return app


def close_app(app: Starlette) -> None:
    """Stop the notification thread and close the SQLite file, if any."""
    context: SandboxContext = app.state.opayo
    if context.dispatcher is not None:
        context.dispatcher.stop()
    context.state.store.close()
