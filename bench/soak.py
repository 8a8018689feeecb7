"""Benchmark: the soak. N orders through the local runtime, every scenario, faults on.

Each order is submitted twice, concurrently, across the demo's scenarios; both sandboxes inject
seeded faults on every mutating call (500, 503, 429, committed-but-lost) and Opayo duplicates
and reorders Server notifications. The run is judged on the sandboxes' own records (see
`demo/soak.py` for the invariants), the dead-letter queues, and a scan of every table,
queue, execution history and log line for card numbers. Prints the violations (must be 0),
the card numbers found (must be 0), orders per minute, p50/p95 time to terminal, and POST
/orders latency; with `--baseline`, the same orders with no faults first, side by side.

    make synth
    .venv/bin/python bench/soak.py [--orders 300] [--no-faults] [--baseline] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core" / "python")]


from demo.soak import KINDS  # noqa: E402


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300, help="orders to submit (default 300)")
    parser.add_argument("--no-faults", action="store_true", help="run with no injected faults")
    parser.add_argument(
        "--baseline", action="store_true", help="also run the same orders with no faults, first"
    )
    parser.add_argument("--fault-probability", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--concurrency", type=int, default=16, help="orders in flight at once (default 16)"
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds for all to end")
    parser.add_argument("--template", type=Path, help="synthesized template (default: cdk.out)")
    parser.add_argument(
        "--kinds",
        help="comma-separated scenarios to run (default: all of " + ", ".join(KINDS) + ")",
    )
    parser.add_argument("--log", type=Path, help="write everything the run logged to this file")
    parser.add_argument("--show", type=int, default=20, help="violations to list (default 20)")
    return parser.parse_args()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def main() -> int:
    args = _arguments()
    from demo.soak import SoakOptions, SoakReport, run_soak
    from local_runtime.runtime import find_template

    try:
        template = args.template or find_template(ROOT / "cdk.out")
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    kinds = tuple(k.strip() for k in args.kinds.split(",")) if args.kinds else KINDS
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        print(
            f"error: unknown scenario {', '.join(unknown)}; choose from {', '.join(KINDS)}",
            file=sys.stderr,
        )
        return 2
    shown = [-1]

    def progress(ended: int, total: int) -> None:
        if ended != shown[0]:
            shown[0] = ended
            print(f"\r  {ended}/{total} orders ended", end="", file=sys.__stderr__, flush=True)

    runs: list[tuple[str, SoakReport]] = []
    plans = [("no faults", False)] if args.baseline else []
    plans.append(("no faults" if args.no_faults else "faults on", not args.no_faults))
    for label, faults in plans:
        print(f"soak: {args.orders} orders, {label} ...", file=sys.__stderr__, flush=True)
        report = run_soak(
            SoakOptions(
                template=template,
                orders=args.orders,
                faults=faults,
                fault_probability=args.fault_probability,
                seed=args.seed,
                concurrency=args.concurrency,
                timeout=args.timeout,
                progress=progress,
                kinds=kinds,
                log_file=args.log,
            )
        )
        print(file=sys.__stderr__)
        runs.append((label, report))

    rows = [
        ("orders ended", lambda r: f"{len(r.ended)}/{len(r.orders)}"),
        ("violations", lambda r: str(len(r.violations))),
        ("card numbers found", lambda r: str(len(r.card_numbers))),
        ("orders per minute", lambda r: f"{r.orders_per_minute:.1f}"),
        ("time to terminal p50", lambda r: _seconds(r.time_to_terminal(0.5))),
        ("time to terminal p95", lambda r: _seconds(r.time_to_terminal(0.95))),
        ("POST /orders p50", lambda r: _seconds(r.post_latency(0.5))),
        ("POST /orders p95", lambda r: _seconds(r.post_latency(0.95))),
        ("faults injected", lambda r: str(sum(r.faults_fired.values()))),
        ("wall time", lambda r: _seconds(r.wall_seconds)),
    ]
    width = max(len(name) for name, _ in rows)
    print(" " * width + "".join(f"  {label:>14}" for label, _ in runs))
    for name, cell in rows:
        print(f"{name:<{width}}" + "".join(f"  {cell(r):>14}" for _, r in runs))
    for label, report in runs:
        print(f"\n[{label}] outcomes:")
        for outcome, count in report.outcomes().items():
            print(f"  {count:5d}  {outcome}")
        if report.faults_fired:
            print(f"[{label}] faults fired:")
            for fault, count in report.faults_fired.items():
                print(f"  {count:5d}  {fault}")
        for problem in report.violations[: args.show]:
            print(f"[{label}] VIOLATION {problem}")
        if len(report.violations) > args.show:
            print(f"[{label}] ... and {len(report.violations) - args.show} more")
        for found in report.card_numbers[: args.show]:
            print(f"[{label}] CARD NUMBER {found}")
    bad = any(r.violations or r.card_numbers for _, r in runs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
