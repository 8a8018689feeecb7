"""Benchmark: each console page against the local runtime holding 10,000 orders.

Starts the local runtime on the synthesized template (both sandboxes, moto, the functions),
writes `--orders` orders into its orders table through OrderStore (one seller account,
received over the last 30 days, a mix of statuses, captures and refunds), starts the console
as `opayo-fba local up` does and times, over HTTP as a browser asks, each page `--runs`
times: median and 95th percentile of the whole response (issue 16: every page under 300 ms).
For a dead-letter queue's page it puts 25 payment events (what that page shows at most) in the
payment events' DLQ. For the Reconciliation pages it first starts a run on uploaded files
(`--run-orders` orders in one settlement and one batch, a tenth of them captured under a
mistyped id, so the run has that many exceptions to suggest matches for). Beside them, what
a user would run instead for the same facts: `opayo-fba status`'s gathering
(ops.status.gather_status) for the Today page, the API's `GET /orders/{id}` for an order,
and `opayo-fba reconcile` on the same files.

    make synth && .venv/bin/python bench/console_pages.py [--orders 10000] [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core" / "python")]

TARGET_MS = 300.0
STATUSES = ("shipped", "shipped", "shipped", "delivered", "payment_failed", "cancelled")


def _seed(store: object, account: str, marketplace: str, count: int, now: datetime) -> list[str]:
    from demo.scenarios import sample_order
    from opayo_fba.model import Customer, Money, Order, OrderStatus
    from opayo_fba.store.orders import HistoryEntry, OrderRecord, OrderStore

    assert isinstance(store, OrderStore)
    template = Order.model_validate({**sample_order("B-0"), "marketplace_id": marketplace})
    ids = [f"B-{n:05d}" for n in range(count)]

    def write(n: int) -> None:
        received = now - timedelta(seconds=(30 * 86400 - 60) * n / max(count, 1))
        status = OrderStatus(STATUSES[n % len(STATUSES)])
        order = template.model_copy(
            update={
                "order_id": ids[n],
                "placed_at": received,
                "customer": Customer(first_name="Jane", last_name=f"Doe{n}", email="j@e.com"),
            }
        )
        store.create(
            OrderRecord(
                order=order,
                seller_account=account,
                vendor="sandboxvendor",
                status=status,
                captured=Money(amount=2598, currency="GBP")
                if status.value != "cancelled"
                else None,
                outcome="merchant_cancelled" if status.value == "cancelled" else None,
                history=[HistoryEntry(at=received, event="received")],
            )
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(count)))
    return ids


def _reconciliation_files(count: int) -> tuple[str, str]:
    """A settlement of `count` orders' fulfilment fees and the batch of their captures, a
    tenth captured under a mistyped id (the other half of each such sale is an exception)."""
    from tests.unit.reconcile.builders import batch_xml, order_fee, settlement_lines, transaction

    ids = [f"R-{n:06d}" for n in range(count)]
    fees = [order_fee(order_id, "-1.00") for order_id in ids]
    settlement = "".join(settlement_lines(fees, total=f"-{count}.00"))
    captures = [
        transaction(order_id + ("X" if n % 10 == 0 else ""), "10.00")
        for n, order_id in enumerate(ids)
    ]
    return settlement, batch_xml(captures)


def _start_run(browser: object, base: str, count: int) -> str:
    """A run on uploaded files, through the console's own form: its run id."""
    import re

    settlement, batch = _reconciliation_files(count)
    page = browser.get(base + "/reconciliation").text  # type: ignore[attr-defined]
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert csrf is not None
    reply = browser.post(  # type: ignore[attr-defined]
        base + "/reconciliation/runs",
        data={"csrf_token": csrf.group(1)},
        files=[
            ("amazon", ("settlement.txt", settlement.encode(), "text/plain")),
            ("opayo", ("batch.xml", batch.encode(), "application/xml")),
        ],
        headers={"origin": base},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text[:500]
    return str(reply.headers["location"]).rsplit("/", 1)[-1]


def _reconcile_cli(count: int) -> Callable[[], None]:
    """`opayo-fba reconcile` on the same two files, into a fresh folder each time."""
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    settlement, batch = _reconciliation_files(count)
    (folder / "settlement.txt").write_text(settlement)
    (folder / "batch.xml").write_text(batch)
    runs = iter(range(1_000_000))

    def run() -> None:
        out = folder / f"out-{next(runs)}"
        subprocess.run(  # noqa: S603 - our own CLI on our own files
            [sys.executable, "-m", "opayo_fba.cli.main", "reconcile",
             "--amazon", str(folder / "settlement.txt"), "--opayo", str(folder / "batch.xml"),
             "--out", str(out)],
            check=True, capture_output=True, cwd=ROOT,
        )  # fmt: skip

    return run


DEAD_LETTERS = 25  # what a queue's page shows at most


def _dead_letters(sqs: object, count: int) -> str:
    """`count` payment events in the payment events' dead-letter queue (as a consumer that
    kept failing leaves them): the queue's name."""
    import json

    from demo.scenarios import sample_order
    from opayo_fba.ops import dlq

    [queue] = [q for q in dlq.list_dead_letter_queues(sqs) if "PaymentEvents" in q.name]
    for n in range(count):
        event = {"event_id": f"evt-{n}", "vendor": "sandboxvendor", "order": sample_order(f"D-{n}")}
        sqs.send_message(  # type: ignore[attr-defined]
            QueueUrl=queue.url,
            MessageBody=json.dumps(event),
            MessageGroupId=f"D-{n}",
            MessageDeduplicationId=f"D-{n}",
        )
    return queue.name


def _ok(response: object) -> None:
    import httpx

    assert isinstance(response, httpx.Response)
    if response.status_code != 200:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text[:300]}")


def _timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    call()  # warm: the first request of a page builds its models and templates
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--template", type=Path)
    parser.add_argument("--run-orders", type=int, default=2_000)
    args = parser.parse_args()

    import boto3
    import httpx

    from local_runtime.environment import EnvironmentOptions, LocalEnvironment
    from local_runtime.moto_memory import settle_collector
    from local_runtime.runtime import find_template
    from local_runtime.seeds import seller_accounts_in
    from opayo_fba.cli.local import start_console
    from opayo_fba.ops import status as ops
    from opayo_fba.store.orders import OrderStore
    from opayo_fba.store.watermarks import WatermarkStore

    template = args.template or find_template(ROOT / "cdk.out")
    options = EnvironmentOptions(template=template, run_schedules=False)
    with LocalEnvironment(options) as environment:
        runtime = environment.runtime
        assert runtime is not None
        accounts = seller_accounts_in(runtime.template)
        account, marketplaces = next(iter(accounts.items()))
        session = boto3.Session(
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - moto's, not a secret
            region_name=options.region,
        )
        dynamodb = session.resource("dynamodb", endpoint_url=runtime.moto_url)
        sqs = session.client("sqs", endpoint_url=runtime.moto_url)
        resources = ops.LocalRuntimeLocator(
            session.client("dynamodb", endpoint_url=runtime.moto_url),
            sqs,
            session.client("stepfunctions", endpoint_url=runtime.moto_url),
        ).locate(runtime.template.stack_name)
        store = OrderStore(dynamodb.Table(resources.orders_table))
        # As `opayo-fba local up` does once the runtime is up (cli/local.start_and_list),
        # before any order arrives.
        settle_collector()
        now = datetime.now(UTC)
        started = time.perf_counter()
        ids = _seed(store, account, marketplaces[0], args.orders, now)
        print(f"{args.orders} orders written in {time.perf_counter() - started:.0f} s")
        server, url = start_console(environment)
        base = url.split("/?")[0]
        try:
            with (
                httpx.Client(follow_redirects=True, timeout=120) as browser,
                httpx.Client(base_url=runtime.api_url, timeout=120) as api,
            ):
                browser.get(url).raise_for_status()
                started = time.perf_counter()
                run_id = _start_run(browser, base, args.run_orders)
                uploaded_ms = (time.perf_counter() - started) * 1000
                some = ids[len(ids) // 2]
                letters = _dead_letters(sqs, DEAD_LETTERS)
                pages = {
                    "Today": "/today",
                    "Orders (first page)": "/orders",
                    "Orders, status shipped": "/orders?status=shipped",
                    "Orders, search by id": f"/orders?q={some}",
                    "An order's page": f"/orders/{some}",
                    "Dead letters": "/dead-letters",
                    f"A dead-letter queue ({DEAD_LETTERS} messages)": f"/dead-letters/{letters}",
                    "Settings": "/settings",
                    "Reconciliation (runs)": "/reconciliation",
                    f"A run ({args.run_orders} orders)": f"/reconciliation/{run_id}",
                    "An exception": f"/reconciliation/{run_id}/exceptions/1",
                    "journal.csv download": f"/reconciliation/{run_id}/files/journal.csv",
                }
                rows = []
                for name, path in pages.items():

                    def get(path: str = path) -> None:
                        browser.get(base + path).raise_for_status()

                    rows.append((name, *_timed(get, args.runs)))
                watermarks = WatermarkStore(dynamodb.Table(resources.connector_state_table))
                scopes = ops.Scopes(accounts={account: marketplaces}, vendors=[], source="bench")
                instead = {
                    "`opayo-fba status` (gather_status)": lambda: ops.gather_status(
                        resources,
                        scopes,
                        orders=store,
                        watermarks=watermarks,
                        sqs=sqs,
                        since=now - timedelta(days=30),
                        now=now,
                    ),
                    "API GET /orders/{id}": lambda: _ok(api.get(f"/orders/{some}")),
                    f"`opayo-fba reconcile` ({args.run_orders} orders)": _reconcile_cli(
                        args.run_orders
                    ),
                }
                other = [(name, *_timed(call, args.runs)) for name, call in instead.items()]
        finally:
            server.stop()
    print(f"console pages, {args.orders} orders, {args.runs} runs each (ms):")
    print(f"{'page':40} {'median':>8} {'p95':>8}")
    for name, median, p95 in rows:
        flag = "" if p95 < TARGET_MS else f"  over {TARGET_MS:.0f} ms"
        print(f"{name:40} {median:8.0f} {p95:8.0f}{flag}")
    print("what a user would run instead:")
    for name, median, p95 in other:
        print(f"{name:40} {median:8.0f} {p95:8.0f}")
    print(f"starting the run on uploaded files ({args.run_orders} orders): {uploaded_ms:.0f} ms")
    over = [name for name, _, p95 in rows if p95 >= TARGET_MS]
    print(
        f"{len(rows) - len(over)} of {len(rows)} pages under {TARGET_MS:.0f} ms at p95"
        + (f"; over: {', '.join(over)}" if over else "")
    )


if __name__ == "__main__":
    main()
