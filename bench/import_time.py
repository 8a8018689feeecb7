"""Cold-start import time of every Lambda handler, the part of a cold start our code decides.

Each handler module is imported in a fresh interpreter (as a new Lambda execution environment
would), with the environment variables the stack gives it, several times; the median is
reported next to a bare interpreter's start-up so the difference is what our imports cost.
Figures depend on the machine: compare handlers with each other, within one run.

    .venv/bin/python bench/import_time.py [--runs 5] [--only order_intake,...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAKE_ENVIRONMENT = {
    "ORDERS_TABLE_NAME": "orders",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "CONNECTOR_STATE_TABLE_NAME": "state",
    "REPORTS_BUCKET_NAME": "reports",
    "PAYMENT_EVENTS_QUEUE_URL": "https://sqs.eu-west-2.amazonaws.com/123456789012/events.fifo",
    "EVENT_BUS_NAME": "bus",
    "SAGA_STATE_MACHINE_ARN": "arn:aws:states:eu-west-2:123456789012:stateMachine:saga",
    "SELLER_SECRET_ARNS": '{"uk-main": "arn:aws:secretsmanager:eu-west-2:1:secret:s"}',
    "VENDOR_SECRET_ARNS": '{"sandboxvendor": "arn:aws:secretsmanager:eu-west-2:1:secret:v"}',
    "OPAYO_VENDORS": "sandboxvendor",
    "SECURITY_KEYS_KEY_ARN": "arn:aws:kms:eu-west-2:123456789012:key/bench",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def _time(code: str, runs: int) -> float:
    env = {**os.environ, **FAKE_ENVIRONMENT, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/core/python'}"}
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        # Our own interpreter running an import statement this script builds.
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], check=True, env=env, cwd=ROOT / "functions"
        )
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="imports per handler (median kept)")
    parser.add_argument("--only", default="", help="comma-separated handler modules")
    args = parser.parse_args()
    modules = sorted(p.stem for p in (ROOT / "functions").glob("*.py") if p.stem != "__init__")
    if args.only:
        modules = [m for m in modules if m in args.only.split(",")]
    baseline = _time("pass", args.runs)
    print(f"bare interpreter start: {baseline * 1000:7.0f} ms (median of {args.runs})")
    print(f"{'handler':34} {'import ms':>10} {'over bare':>10}")
    results = []
    for module in modules:
        seconds = _time(f"import {module}", args.runs)
        results.append((seconds, module))
        print(f"{module:34} {seconds * 1000:10.0f} {(seconds - baseline) * 1000:10.0f}")
    slowest = max(results)
    print(f"slowest: {slowest[1]} at {(slowest[0] - baseline) * 1000:.0f} ms over a bare start")


if __name__ == "__main__":
    main()
