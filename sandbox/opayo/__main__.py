"""`python -m sandbox.opayo --port PORT`: serve the Opayo sandbox on loopback.

Every credential has a documented default, overridable by a flag or an environment variable.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

from sandbox.common.faults import FaultConfig, FaultKind, FaultRule
from sandbox.common.server import serve_forever
from sandbox.opayo.app import close_app, create_app
from sandbox.opayo.options import (
    DEFAULT_INTEGRATION_KEY,
    DEFAULT_INTEGRATION_PASSWORD,
    DEFAULT_REPORTING_PASSWORD,
    DEFAULT_REPORTING_USER,
    DEFAULT_VENDOR,
    NotificationFaults,
    OpayoSandboxOptions,
)

ENV_PREFIX = "OPAYO_SANDBOX_"
# rule: OPAYO-SBX-02
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _fault(text: str) -> FaultRule:
    """`OPERATION:KIND[:PROBABILITY[:TIMES]]`, e.g. `transactions:unavailable:0.2`."""
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 4:
        raise argparse.ArgumentTypeError(
            f"--fault {text!r}: expected OPERATION:KIND[:PROBABILITY[:TIMES]]"
        )
    kinds = ", ".join(kind.value for kind in FaultKind)
    try:
        kind = FaultKind(parts[1])
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"--fault {text!r}: KIND must be one of {kinds}"
        ) from error
    try:
        probability = float(parts[2]) if len(parts) > 2 else 1.0
        times = int(parts[3]) if len(parts) > 3 else None
        return FaultRule(operation=parts[0], kind=kind, probability=probability, times=times)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--fault {text!r}: {error}") from error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.opayo",
        description="A local stand-in for Opayo (Pi REST, Server integration, Reporting API).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(_env("PORT", "8766")))
    parser.add_argument("--vendor", default=_env("VENDOR", DEFAULT_VENDOR))
    parser.add_argument(
        "--integration-key", default=_env("INTEGRATION_KEY", DEFAULT_INTEGRATION_KEY)
    )
    parser.add_argument(
        "--integration-password",
        default=_env("INTEGRATION_PASSWORD", DEFAULT_INTEGRATION_PASSWORD),
    )
    parser.add_argument("--reporting-user", default=_env("REPORTING_USER", DEFAULT_REPORTING_USER))
    parser.add_argument(
        "--reporting-password", default=_env("REPORTING_PASSWORD", DEFAULT_REPORTING_PASSWORD)
    )
    parser.add_argument(
        "--clock-factor", type=float, default=1.0, help="clock speed; 0 freezes it (default 1)"
    )
    parser.add_argument(
        "--clock-start", type=datetime.fromisoformat, help="ISO 8601 start time with offset"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of fault injection")
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="OP:KIND[:P[:TIMES]]",
        help="inject a fault; KIND is one of " + ", ".join(k.value for k in FaultKind),
    )
    parser.add_argument("--duplicate-notifications", type=float, default=0.0, metavar="PROBABILITY")
    parser.add_argument("--reorder-notifications", action="store_true")
    parser.add_argument(
        "--retry-scale",
        type=float,
        default=1.0,
        help="multiply Opayo's notification retry schedule (e.g. 0.01)",
    )
    parser.add_argument("--sqlite", metavar="PATH", help="keep state in this SQLite file")
    parser.add_argument(
        "--valid-ip",
        action="append",
        metavar="ADDRESS",
        help="the vendor's Valid IPs (repeatable; default 127.0.0.1 and ::1): Server and "
        "Shared Protocol posts from other addresses are refused with 4020",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"error: --host {args.host} is not loopback; the sandbox serves only "
            f"{', '.join(LOOPBACK_HOSTS)}",
            file=sys.stderr,
        )
        return 2
    try:
        options = OpayoSandboxOptions(
            vendor=args.vendor,
            integration_key=args.integration_key,
            integration_password=args.integration_password,
            reporting_user=args.reporting_user,
            reporting_password=args.reporting_password,
            clock_factor=args.clock_factor,
            clock_start=args.clock_start,
            faults=FaultConfig(seed=args.seed, rules=args.fault),
            notification_faults=NotificationFaults(
                seed=args.seed,
                duplicate_probability=args.duplicate_notifications,
                reorder=args.reorder_notifications,
            ),
            notification_retry_scale=args.retry_scale,
            sqlite_path=args.sqlite,
            **({"valid_ips": args.valid_ip} if args.valid_ip else {}),
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app = create_app(options)
    url = f"http://{args.host}:{args.port}"
    # Sandbox-only credentials, printed on purpose so a developer can copy them.
    print(f"Opayo sandbox on {url}", flush=True)
    print(f"  Pi REST:        {url}/api/v1", flush=True)
    print(f"  vendor:         {options.vendor}", flush=True)
    print(
        f"  integration:    {options.integration_key} / {options.integration_password}", flush=True
    )
    print(f"  reporting user: {options.reporting_user} / {options.reporting_password}", flush=True)
    try:
        serve_forever(app, args.host, args.port)
    finally:
        close_app(app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
