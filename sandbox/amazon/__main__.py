"""`python -m sandbox.amazon --port PORT`: serve the SP-API sandbox on loopback.

Every option has a flag and an environment variable (flags win); see docs/sandbox-amazon.md.
"""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import ValidationError

from sandbox.amazon.app import create_app
from sandbox.amazon.options import AmazonSandboxOptions, Credentials, NotificationTarget
from sandbox.common.faults import FaultConfig
from sandbox.common.server import serve_forever

_DEFAULTS = Credentials()


def _env(name: str, default: str) -> str:
    return os.environ.get(f"AMAZON_SANDBOX_{name}", default)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.amazon",
        description="Local stand-in for Amazon SP-API (LWA, Orders, FBA MCF, Reports, Tokens).",
    )
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(_env("PORT", "8100")))
    parser.add_argument(
        "--clock-factor",
        type=float,
        default=float(_env("CLOCK_FACTOR", "1")),
        help="sandbox seconds per real second (0 freezes the clock)",
    )
    parser.add_argument("--seed", type=int, default=int(_env("SEED", "0")))
    parser.add_argument("--sqlite", default=_env("SQLITE", "") or None, help="persist state here")
    parser.add_argument("--client-id", default=_env("CLIENT_ID", _DEFAULTS.client_id))
    parser.add_argument("--client-secret", default=_env("CLIENT_SECRET", _DEFAULTS.client_secret))
    parser.add_argument("--refresh-token", default=_env("REFRESH_TOKEN", _DEFAULTS.refresh_token))
    parser.add_argument("--seller-id", default=_env("SELLER_ID", _DEFAULTS.seller_id))
    parser.add_argument(
        "--marketplace-id", default=_env("MARKETPLACE_ID", _DEFAULTS.marketplace_id)
    )
    parser.add_argument(
        "--also-marketplace-id",
        action="append",
        default=[m for m in _env("MARKETPLACE_IDS", "").split(",") if m],
        help="another marketplace the seller sells in (repeatable; UK and EU stock are "
        "separate pools)",
    )
    parser.add_argument(
        "--sqs-queue-url",
        action="append",
        default=[u for u in _env("SQS_QUEUE_URL", "").split(",") if u],
        help="deliver notifications to this SQS queue (repeatable)",
    )
    parser.add_argument("--sqs-endpoint-url", default=_env("SQS_ENDPOINT_URL", "") or None)
    parser.add_argument(
        "--notify-url",
        action="append",
        default=[u for u in _env("NOTIFY_URL", "").split(",") if u],
        help="POST notifications to this HTTP URL (repeatable)",
    )
    parser.add_argument(
        "--faults",
        default=_env("FAULTS", ""),
        help='fault config JSON, e.g. {"seed":1,"rules":[...]}',
    )
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="turn the usage-plan token buckets off"
    )
    return parser.parse_args(argv)


def build_options(args: argparse.Namespace) -> AmazonSandboxOptions:
    targets = [
        NotificationTarget(kind="sqs", url=url, endpoint_url=args.sqs_endpoint_url)
        for url in args.sqs_queue_url
    ] + [NotificationTarget(kind="http", url=url) for url in args.notify_url]
    return AmazonSandboxOptions(
        clock_factor=args.clock_factor,
        seed=args.seed,
        sqlite_path=args.sqlite,
        credentials=Credentials(
            client_id=args.client_id,
            client_secret=args.client_secret,
            refresh_token=args.refresh_token,
            seller_id=args.seller_id,
            marketplace_id=args.marketplace_id,
            marketplace_ids=tuple(args.also_marketplace_id),
        ),
        notification_targets=targets,
        faults=FaultConfig.model_validate_json(args.faults) if args.faults else FaultConfig(),
        rate_limits_enabled=not args.no_rate_limits,
        history_limit=1000,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        options = build_options(args)
    except ValidationError as error:
        print(f"invalid sandbox option: {error}", file=sys.stderr)
        return 2
    app = create_app(options)
    creds = options.credentials
    url = f"http://{args.host}:{args.port}"
    print(f"Amazon SP-API sandbox listening on {url}")
    print(f"  LWA token endpoint:  {url}/auth/o2/token")
    print(f"  LWA client id:       {creds.client_id}")
    print(f"  LWA client secret:   {creds.client_secret}")
    print(f"  refresh token:       {creds.refresh_token}")
    print(f"  seller id:           {creds.seller_id}")
    print(f"  marketplace ids:     {', '.join(creds.enabled_marketplaces)}")
    print(
        f"  SKUs in stock:       {', '.join(s.sku + '=' + str(s.quantity) for s in options.skus)}"
    )
    sys.stdout.flush()
    try:
        serve_forever(app, args.host, args.port)
    finally:
        app.state.sandbox.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
