"""Benchmark: N concurrent workers share one seller's createFulfillmentOrder budget.

Runs the SP-API sandbox in-process with its usage-plan buckets on (2 requests/s, burst 30),
on a clock running `--speed` times faster than real time, and drives it for `--seconds` of
sandbox time twice: once through our connector (shared GCRA buckets in a moto DynamoDB
table, one connector per worker as if each were a Lambda instance), once through
python-amazon-sp-api's own `throttle_retry` decorator (its delays scaled by the same factor so
both see the same virtual time). Prints, for each: calls completed, the achieved rate as a
percentage of the usage-plan rate, and the number of 429 responses.

    .venv/bin/python bench/rate_limit.py [--workers 20] [--seconds 64] [--speed 4]
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

OPERATION = "createFulfillmentOrder"
SKU = "BENCH-MUG"


@dataclass
class Outcome:
    label: str
    completed: int
    failed: int
    throttled_responses: int
    first_429_after_calls: int | None
    elapsed: float
    """Sandbox seconds from the start to the last completed call."""


def start_sandbox(speed: float, credentials: Any = None) -> tuple[Any, Any]:
    """An Amazon sandbox with one SKU in plenty, for `credentials`' seller (default: the
    sandbox's own)."""
    from sandbox.amazon import AmazonSandboxOptions, create_app
    from sandbox.amazon.options import Credentials, SkuStock
    from sandbox.common.server import ThreadedServer

    options = AmazonSandboxOptions(
        credentials=credentials or Credentials(),
        clock_factor=speed,
        clock_start=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        skus=[
            SkuStock(
                sku=SKU, quantity=1_000_000, asin="B0BENCH001", title="Mug", unit_price_minor=999
            )
        ],
        seed_amazon_orders=False,
    )
    app = create_app(options)
    server = ThreadedServer(app)
    server.start()
    return app, server


def order_body(order_id: str) -> dict[str, Any]:
    return {
        "sellerFulfillmentOrderId": order_id,
        "displayableOrderId": order_id,
        "displayableOrderDate": "2026-03-02T08:00:00Z",
        "displayableOrderComment": "Benchmark order",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {
            "name": "Ada Lovelace",
            "addressLine1": "12 Analytical Row",
            "city": "London",
            "postalCode": "NW1 6XE",
            "countryCode": "GB",
        },
        "items": [{"sellerSku": SKU, "sellerFulfillmentOrderItemId": "1", "quantity": 1}],
    }


def run_workers(
    workers: int, seconds: float, clock: Callable[[], float], call: Callable[[int, int], None]
) -> tuple[int, int, float]:
    """Each worker calls `call(worker, n)` for `seconds` of sandbox time (from now).

    Returns (completed, failed, sandbox seconds until the last call completed).
    """
    start = clock()
    end = start + seconds
    completed = [0] * workers
    failed = [0] * workers
    last = [start] * workers

    def worker(index: int) -> None:
        from opayo_fba.amazon.errors import Throttled

        n = 0
        while clock() < end:
            n += 1
            try:
                call(index, n)
            except Throttled as throttled:
                if "--debug" in sys.argv:
                    print(f"  worker {index} stops: {throttled} at {clock() - end:+.1f}s")
                return  # no slot before the end of the run: this worker's budget is spent
            except Exception:
                failed[index] += 1
            else:
                completed[index] += 1
                last[index] = clock()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(completed), sum(failed), max(last) - start


def throttled_after(app: Any) -> tuple[int, int | None]:
    """(429 responses, successful calls before the first 429) for the operation."""
    statuses = [r.status_code for r in app.state.sandbox.recorded if r.operation_id == OPERATION]
    first = next((i for i, status in enumerate(statuses) if status == 429), None)
    if "--debug" in sys.argv:
        print("  429 at call #", [i for i, status in enumerate(statuses) if status == 429])
        from collections import Counter

        print("  statuses", Counter(statuses))
    return statuses.count(429), first


def bench_ours(workers: int, seconds: float, speed: float) -> Outcome:
    from moto import mock_aws

    from tests.fixtures.amazon_sandbox import clear_sp_api_token_cache
    from tests.integration.connectors.amazon_support import (
        create_buckets_table,
        sandbox_connector,
    )

    clear_sp_api_token_cache()
    app, server = start_sandbox(speed)
    sandbox_clock = app.state.sandbox.clock
    try:
        with mock_aws():
            dynamodb = create_buckets_table()
            run = {"end": 0.0}
            connectors = [
                sandbox_connector(
                    server.url,
                    app.state.sandbox.options,
                    dynamodb,
                    # The limiter's clock and sleep run on sandbox time, like the sandbox's
                    # buckets; in production both are the wall clock.
                    clock=sandbox_clock.monotonic,
                    sleep=lambda s: time.sleep(s / speed),
                    time_budget=lambda: max(0.0, run["end"] - sandbox_clock.monotonic()),
                    # Half a real second of latency jitter, in sandbox seconds.
                    latency_cushion=0.5 * speed,
                )
                for _ in range(workers)
            ]

            for connector in connectors:
                connector.prepare()  # the baseline's clients are built before the run too

            def call(worker: int, n: int) -> None:
                connectors[worker].create_fulfillment_order_on_hold(order_body(f"O-{worker}-{n}"))

            run["end"] = sandbox_clock.monotonic() + seconds
            completed, failed, elapsed = run_workers(
                workers, seconds, sandbox_clock.monotonic, call
            )
            for connector in connectors:
                connector.close()
        throttled, first = throttled_after(app)
        return Outcome("our connector", completed, failed, throttled, first, elapsed)
    finally:
        server.stop()
        app.state.sandbox.close()


def bench_throttle_retry(workers: int, seconds: float, speed: float) -> Outcome:
    from sp_api.api import FulfillmentOutbound
    from sp_api.util import throttle_retry

    from tests.fixtures.amazon_sandbox import AmazonSandboxHandle, clear_sp_api_token_cache

    clear_sp_api_token_cache()
    app, server = start_sandbox(speed)
    sandbox_clock = app.state.sandbox.clock
    try:
        handle = AmazonSandboxHandle(url=server.url, sandbox=app.state.sandbox, control=None)  # type: ignore[arg-type]
        clients = [handle.sp_api_client(FulfillmentOutbound, timeout=10.0) for _ in range(workers)]
        # The library's defaults (10 tries, 5 s first delay, x1.3), in sandbox time.
        senders = []
        for client in clients:

            def make(client: Any) -> Callable[[dict[str, Any]], Any]:
                @throttle_retry(tries=10, delay=5.0 / speed, rate=1.3)
                def send(body: dict[str, Any]) -> Any:
                    return client.create_fulfillment_order(**body)

                return send

            senders.append(make(client))

        def call(worker: int, n: int) -> None:
            senders[worker](order_body(f"T-{worker}-{n}"))

        completed, failed, elapsed = run_workers(workers, seconds, sandbox_clock.monotonic, call)
        throttled, first = throttled_after(app)
        return Outcome("sp_api throttle_retry", completed, failed, throttled, first, elapsed)
    finally:
        server.stop()
        app.state.sandbox.close()


def report(outcome: Outcome, rate: float, burst: int) -> str:
    """Achieved rate: calls beyond the burst per second of the run, against the plan's rate
    (the burst is a one-off allowance; the rate is what can be sustained)."""
    sustained = (outcome.completed - burst) / (rate * outcome.elapsed)
    return (
        f"{outcome.label:<22} completed {outcome.completed:>4} in {outcome.elapsed:5.1f} "
        f"sandbox s  achieved {sustained:6.1%} of plan rate  "
        f"429 responses {outcome.throttled_responses:>4}  failed calls {outcome.failed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=64.0, help="sandbox seconds per run")
    parser.add_argument("--speed", type=float, default=4.0, help="sandbox clock speed-up")
    parser.add_argument("--debug", action="store_true", help="list where the 429s fell")
    args = parser.parse_args()
    import logging

    logging.getLogger("stamina").setLevel(logging.ERROR)  # retries are counted, not logged
    from opayo_fba.amazon.rate_limit import USAGE_PLANS

    plan = USAGE_PLANS[OPERATION]
    real = args.seconds / args.speed
    print(
        f"{OPERATION}: plan {plan.rate:g}/s, burst {plan.burst}; {args.workers} workers; "
        f"{args.seconds:g} sandbox s per run at x{args.speed:g} (~{real:.0f} s real each)"
    )
    for bench in (bench_ours, bench_throttle_retry):
        outcome = bench(args.workers, args.seconds, args.speed)
        print(report(outcome, plan.rate, plan.burst), flush=True)


if __name__ == "__main__":
    main()
