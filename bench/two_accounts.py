"""Benchmark: two seller accounts polled and fulfilling at full rate at once.

Each seller account has its own Amazon sandbox (its own seller, usage-plan buckets on), on a
clock running `--speed` times faster than real time. For each account, `--workers` connectors
(as many Lambda instances) create fulfillment orders (createFulfillmentOrder, 2/s burst 30) and
`--pollers` connectors read changed inventory (getInventorySummaries, 2/s burst 2), for
`--seconds` of sandbox time, all through our connector's shared GCRA buckets in one moto
DynamoDB table. Four runs:

  uk-main alone, eu-main alone, both at once (ours: buckets per seller account), and both at
  once with one application-wide bucket per operation (what an integration that throttles
  per application rather than per selling partner does; Amazon's usage plans are per
  selling-partner account and application, reference sp-api.md).

Prints, for each run, account and operation: calls completed, the achieved rate as a
percentage of the usage-plan rate (calls beyond the burst per second of the run), and the
429 responses the sandbox sent.

    .venv/bin/python bench/two_accounts.py [--workers 8] [--pollers 2] [--seconds 64] [--speed 4]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core" / "python")]

FULFIL = "createFulfillmentOrder"
POLL = "getInventorySummaries"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCOUNTS = {
    # account: (seller id, home marketplace, other marketplaces)
    "uk-main": ("A1BENCHUKSELLER", "A1F83G8C2ARO7P", ()),
    "eu-main": ("A2BENCHEUSELLER", "A1PA6795UKMFR9", ("A13V1IB3VIYZZH",)),
}


@dataclass
class Group:
    """Workers of one account calling one operation."""

    account: str
    operation: str
    calls: list[Callable[[int], None]]
    clock: Callable[[], float]
    completed: int = 0
    failed: int = 0
    started: float = 0.0
    last: float = 0.0


@dataclass
class Line:
    run: str
    account: str
    operation: str
    completed: int
    failed: int
    throttled: int
    sustained: float


def start_sandbox(account: str, speed: float) -> tuple[Any, Any]:
    from bench.rate_limit import start_sandbox as start_one
    from sandbox.amazon.options import Credentials

    seller_id, home, others = ACCOUNTS[account]
    return start_one(
        speed,
        Credentials(
            seller_id=seller_id,
            refresh_token=f"Atzr|bench-{account}",
            marketplace_id=home,
            marketplace_ids=others,
        ),
    )


def order_body(order_id: str, marketplace: str) -> dict[str, Any]:
    from bench.rate_limit import order_body as uk_order

    body = uk_order(order_id)
    body["marketplaceId"] = marketplace
    if marketplace != "A1F83G8C2ARO7P":
        body["destinationAddress"] = {
            "name": "Grete Weiss",
            "addressLine1": "Unter den Linden 1",
            "city": "Berlin",
            "postalCode": "10117",
            "countryCode": "DE",
        }
    return body


def run_groups(groups: list[Group], seconds: float) -> None:
    """Every worker of every group calls until `seconds` of its sandbox's time have passed."""

    def worker(group: Group, call: Callable[[int], None]) -> None:
        from opayo_fba.amazon.errors import Throttled

        end = group.started + seconds
        n = 0
        while group.clock() < end:
            n += 1
            try:
                call(n)
            except Throttled:
                return  # no slot before the end of the run: this worker's budget is spent
            except Exception:
                group.failed += 1
            else:
                group.completed += 1
                group.last = max(group.last, group.clock())

    threads = []
    for group in groups:
        group.started = group.last = group.clock()
        threads += [
            threading.Thread(target=worker, args=(group, call), daemon=True) for call in group.calls
        ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def bench(
    run: str, accounts: list[str], args: argparse.Namespace, *, app_wide: bool = False
) -> list[Line]:
    from moto import mock_aws

    from opayo_fba.amazon.rate_limit import USAGE_PLANS
    from tests.fixtures.amazon_sandbox import clear_sp_api_token_cache
    from tests.integration.connectors.amazon_support import (
        create_buckets_table,
        sandbox_connector,
    )

    clear_sp_api_token_cache()
    sandboxes = {account: start_sandbox(account, args.speed) for account in accounts}
    connectors: list[Any] = []
    try:
        with mock_aws():
            dynamodb = create_buckets_table()
            groups: list[Group] = []
            budgets: list[tuple[dict[str, float], Callable[[], float]]] = []
            for account, (app, server) in sandboxes.items():
                clock = app.state.sandbox.clock.monotonic
                home = ACCOUNTS[account][1]
                ends = {"at": clock() + args.seconds}
                budgets.append((ends, clock))

                def connector(
                    clock: Callable[[], float] = clock,
                    ends: Any = ends,
                    url: str = server.url,
                    options: Any = app.state.sandbox.options,
                ) -> Any:
                    made = sandbox_connector(
                        url,
                        options,
                        dynamodb,
                        # Limiter time is sandbox time, like the sandbox's buckets.
                        clock=clock,
                        sleep=lambda s: time.sleep(s / args.speed),
                        time_budget=lambda: max(0.0, ends["at"] - clock()),
                        latency_cushion=0.5 * args.speed,
                        limiter_key="application" if app_wide else None,
                    )
                    made.prepare()
                    connectors.append(made)
                    return made

                def fulfil(c: Any, worker: int, account: str = account, home: str = home) -> Any:
                    return lambda n: c.create_fulfillment_order_on_hold(
                        order_body(f"{account}-{worker}-{n}", home)
                    )

                def poll(c: Any) -> Any:
                    return lambda n: c.inventory_summaries_changed_since(START)

                groups.append(
                    Group(
                        account,
                        FULFIL,
                        [fulfil(connector(), w) for w in range(args.workers)],
                        clock,
                    )
                )
                groups.append(
                    Group(account, POLL, [poll(connector()) for _ in range(args.pollers)], clock)
                )
            for ends, clock in budgets:  # each connector's time budget ends with the run
                ends["at"] = clock() + args.seconds
            run_groups(groups, args.seconds)
            for made in connectors:
                made.close()
        lines = []
        for group in groups:
            app = sandboxes[group.account][0]
            statuses = [
                r.status_code
                for r in app.state.sandbox.recorded
                if r.operation_id == group.operation
            ]
            plan = USAGE_PLANS[group.operation]
            elapsed = max(group.last - group.started, 1e-9)
            sustained = (group.completed - plan.burst) / (plan.rate * elapsed)
            lines.append(
                Line(
                    run,
                    group.account,
                    group.operation,
                    group.completed,
                    group.failed,
                    statuses.count(429),
                    sustained,
                )
            )
        return lines
    finally:
        for app, server in sandboxes.values():
            server.stop()
            app.state.sandbox.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8, help="fulfilment workers per account")
    parser.add_argument("--pollers", type=int, default=2, help="inventory pollers per account")
    parser.add_argument("--seconds", type=float, default=64.0, help="sandbox seconds per run")
    parser.add_argument("--speed", type=float, default=4.0, help="sandbox clock speed-up")
    args = parser.parse_args()
    import logging

    logging.getLogger("stamina").setLevel(logging.ERROR)  # retries are counted, not logged
    from opayo_fba.amazon.rate_limit import USAGE_PLANS

    plans = ", ".join(
        f"{op} {USAGE_PLANS[op].rate:g}/s burst {USAGE_PLANS[op].burst}" for op in (FULFIL, POLL)
    )
    print(
        f"plans: {plans}; per account {args.workers} fulfilment workers and {args.pollers} "
        f"pollers; {args.seconds:g} sandbox s per run at x{args.speed:g} "
        f"(~{args.seconds / args.speed:.0f} s real each)"
    )
    lines: list[Line] = []
    lines += bench("alone", ["uk-main"], args)
    lines += bench("alone", ["eu-main"], args)
    lines += bench("together, ours", ["uk-main", "eu-main"], args)
    lines += bench("together, app-wide bucket", ["uk-main", "eu-main"], args, app_wide=True)
    print(f"{'run':<27} {'account':<8} {'operation':<22} {'calls':>5} {'of plan':>8} {'429s':>5}")
    for line in lines:
        print(
            f"{line.run:<27} {line.account:<8} {line.operation:<22} {line.completed:>5} "
            f"{line.sustained:>8.1%} {line.throttled:>5}"
            + (f"  failed {line.failed}" if line.failed else "")
        )
    # Side by side: each account's rate with the other running, against its rate alone.
    alone = {(x.account, x.operation): x.sustained for x in lines if x.run == "alone"}
    print(
        "\neach account's achieved rate with the other at full rate, as a share of its rate alone:"
    )
    for run in ("together, ours", "together, app-wide bucket"):
        shares = [
            f"{x.account} {x.operation} {x.sustained / alone[(x.account, x.operation)]:.0%}"
            for x in lines
            if x.run == run and alone.get((x.account, x.operation))
        ]
        print(f"  {run:<27} " + "; ".join(shares))


if __name__ == "__main__":
    main()
