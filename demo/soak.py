"""The soak: many orders at once, every scenario, every fault, judged on the sandboxes' records.

`run_soak(options)` starts the sandboxes and the local runtime on the synthesized template,
turns on seeded faults on every mutating operation of both sandboxes (5xx, 429, committed
changes whose response is lost), crashes of our own functions right after their side effect
and duplicated, reordered Server notifications, then submits N orders, `concurrency` of them
in flight at once (a shop submits its next order when its last one has ended, so the load is
what a laptop can carry, not a queue), each twice, across the demo's scenarios (card,
declined card, out of stock, capture refused, Server payment, merchant cancellation at a
random moment). When every order has ended (or the bound runs out) it judges each one on
Opayo's and Amazon's own records, checks every dead-letter queue, and scans every table,
queue, execution history and log line the integration wrote for anything shaped like a card
number.

The invariants (each breach is a violation; `bench/soak.py` prints them, a test wants none):
- every order reaches a terminal state;
- at most one fulfillment order per order, and Amazon never ships an order Opayo did not
  capture ("never ships unpaid");
- at most one capture per order, and at most one payment transaction per order;
- nothing captured for an order Amazon did not ship, unless refunded in full;
- no Deferred authorisation left open, for any order, stored or not (card payments whose
  order never reached us are ended by the hourly check, run once at the end as it would run
  once their age had passed);
- dead-letter queues empty.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
import httpx

from demo.scenarios import (
    BROWSER_DATA,
    DECLINED_AMOUNT,
    TERMINAL,
    DemoContext,
    sample_order,
)
from local_runtime.environment import OPAYO_MAX_TIME_FACTOR, EnvironmentOptions, LocalEnvironment
from local_runtime.seeds import vendors_in
from local_runtime.template import Template
from sandbox.amazon.options import AmazonSandboxOptions, SkuStock
from sandbox.opayo.options import OpayoSandboxOptions

# Shop-side calls (session keys, card identifiers, Server registration) are the shopper's
# browser and the shop talking to Opayo, not us: faults go on the calls our code makes.
AMAZON_MUTATING = ("createFulfillmentOrder", "updateFulfillmentOrder", "cancelFulfillmentOrder")
AMAZON_READS = ("getFulfillmentPreview", "getFulfillmentOrder")
OPAYO_MUTATING = (
    "transactions",
    "instructions",
    "shared-release",
    "shared-abort",
    "shared-refund",
    "shared-void",
)
FAULT_KINDS = ("server_error", "unavailable", "throttle", "lost_response")
# Our own functions stopped right after a side effect landed, before they could write it down
# (what a Lambda timeout does): (module, method, path pattern of the call).
_FULFILLMENT = r"^/fba/outbound/2020-07-01/fulfillmentOrders"
CRASHES = (
    ("order_intake", "POST", r"^/api/v1/transactions$"),
    ("saga_capture_payment", "POST", r"^/api/v1/transactions/[^/]+/instructions$"),
    ("saga_capture_payment", "POST", r"/gateway/service/release\.vsp$"),
    ("saga_abort_payment", "POST", r"^/api/v1/transactions/[^/]+/instructions$"),
    ("saga_abort_payment", "POST", r"^/api/v1/transactions$"),
    ("saga_create_fulfillment_order", "POST", _FULFILLMENT + "$"),
    ("saga_release_fulfillment_order", "PUT", _FULFILLMENT + "/[^/]+$"),
    ("saga_cancel_fulfillment_order", "PUT", _FULFILLMENT + "/[^/]+/cancel$"),
)
KINDS = ("card", "declined", "out_of_stock", "capture_refused", "server", "cancel")
SOAK_SKU = "OPF-SOAK-MUG"
REGION = "eu-west-2"
# What the shop does when we answer 5xx or the connection breaks: try again, a few times.
SHOP_ATTEMPTS = 4
T = TypeVar("T")
_CARD_RUN = re.compile(r"(?<!\d)(?:\d[ -]?){11,18}\d(?!\d)")


@dataclass
class SoakOptions:
    template: Path
    orders: int = 300
    faults: bool = True
    fault_probability: float = 0.2  # per mutating call, spread over FAULT_KINDS
    seed: int = 1
    concurrency: int = 16  # orders in flight at once: each shop waits for its order to end
    time_factor: float = 600.0
    timeout: float = 900.0  # seconds for every order to end
    progress: Callable[[int, int], None] | None = None  # (ended, total)
    kinds: tuple[str, ...] = KINDS  # the scenarios to spread the orders over
    log_file: Path | None = None  # where to write everything the run logged


@dataclass
class SoakOrder:
    order_id: str
    kind: str
    vendor_tx_code: str
    submitted_at: float = 0.0
    ended_at: float | None = None
    post_latencies: list[float] = field(default_factory=list)
    post_statuses: list[int] = field(default_factory=list)
    post_refusals: list[str] = field(default_factory=list)  # what a 4xx/5xx answer said
    cancel_status: int | None = None
    final: dict[str, Any] = field(default_factory=dict)
    # The shop's own Deferred deposit (capture refused): taken before the faults go on, since
    # faults are for the calls our code makes, not for the shop's.
    deposit_transaction_id: str = ""
    start_error: str | None = None
    shop_done: bool = False  # the shop has stopped submitting (accepted or not)


@dataclass
class SoakReport:
    orders: list[SoakOrder]
    violations: list[str]
    card_numbers: list[str]
    wall_seconds: float
    faults_fired: dict[str, int]

    @property
    def ended(self) -> list[SoakOrder]:
        return [o for o in self.orders if o.ended_at is not None]

    @property
    def orders_per_minute(self) -> float:
        return len(self.ended) / self.wall_seconds * 60 if self.wall_seconds else 0.0

    def time_to_terminal(self, quantile: float) -> float | None:
        values = sorted(o.ended_at - o.submitted_at for o in self.ended if o.ended_at)
        return _quantile(values, quantile)

    def post_latency(self, quantile: float) -> float | None:
        return _quantile(sorted(v for o in self.orders for v in o.post_latencies), quantile)

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.orders:
            key = f"{o.kind}: {o.final.get('status')}/{o.final.get('outcome') or '-'}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))


def _quantile(values: list[float], quantile: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(quantile * 100) - 1]


class _Keep(io.TextIOBase):
    """Keeps everything written (the handlers' JSON logs), for the card-number scan."""

    def __init__(self, keep: list[str], lock: threading.Lock) -> None:
        self._keep = keep
        self._lock = lock

    def write(self, text: str) -> int:
        with self._lock:
            self._keep.append(text)
        return len(text)


class _KeepRecords(logging.Handler):
    def __init__(self, keep: list[str], lock: threading.Lock) -> None:
        super().__init__(logging.DEBUG)
        self._keep = keep
        self._lock = lock

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage() + " " + json.dumps(record.__dict__, default=str)
        except Exception:  # a record that cannot be rendered is kept as its repr
            text = repr(record.__dict__)
        with self._lock:
            self._keep.append(text)


@contextmanager
def _captured_output(keep: list[str]) -> Iterator[None]:
    """Everything printed or logged in this process while the soak runs (handlers' logs too).

    It is kept, not shown: the report says what happened, and the scan reads every line.
    """
    lock = threading.Lock()
    saved = sys.stdout, sys.stderr
    handler = _KeepRecords(keep, lock)
    root = logging.getLogger()
    sys.stdout = sys.stderr = _Keep(keep, lock)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        sys.stdout, sys.stderr = saved


def _environment_options(options: SoakOptions) -> EnvironmentOptions:
    plenty = options.orders * 4 + 100
    amazon = AmazonSandboxOptions(
        clock_factor=options.time_factor,
        history_limit=100_000,
        token_lifetime_seconds=int(3600 * max(1.0, options.time_factor)),
        lost_response_hang_seconds=1.0,
        skus=[
            SkuStock(
                sku=SOAK_SKU, quantity=plenty, asin="B0SOAK0001", title="Mug", unit_price_minor=1299
            ),
            SkuStock(
                sku="OPF-OUT-OF-STOCK",
                quantity=0,
                asin="B0SOAK0002",
                title="Lantern (sold out)",
                unit_price_minor=2999,
            ),
        ],
    )
    # Opayo's session keys live 400 s, so its clock runs no faster than the demo's (10x).
    opayo = {
        vendor: OpayoSandboxOptions(
            vendor=vendor,
            clock_factor=min(options.time_factor, OPAYO_MAX_TIME_FACTOR),
            lost_response_hang_seconds=1.0,
        )
        for vendor in vendors_in(Template.load(options.template, REGION))
    }
    return EnvironmentOptions(
        template=options.template,
        region=REGION,
        time_factor=options.time_factor,
        run_schedules=True,
        amazon=amazon,
        opayo=opayo,
        function_environment={
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "POWERTOOLS_METRICS_DISABLED": "true",
        },
    )


def _fault_rules(operations: tuple[str, ...], probability: float) -> list[dict[str, Any]]:
    each = probability / len(FAULT_KINDS)
    rules = []
    for operation in operations:
        # FaultInjector tries the rules in order, so each rule's chance is of what is left.
        left = 1.0
        for kind in FAULT_KINDS:
            rules.append({"operation": operation, "kind": kind, "probability": each / left})
            left -= each
    return rules


def _configure_faults(ctx: DemoContext, options: SoakOptions) -> None:
    if not options.faults:
        return
    p = options.fault_probability
    amazon = _fault_rules(AMAZON_MUTATING, p) + [
        {"operation": op, "kind": "throttle", "probability": p / 2} for op in AMAZON_READS
    ]
    ctx.amazon.post(
        "/_sandbox/faults", json={"seed": options.seed, "rules": amazon}
    ).raise_for_status()
    ctx.opayo.post(
        "/_sandbox/faults",
        json={"seed": options.seed + 1, "rules": _fault_rules(OPAYO_MUTATING, p)},
    ).raise_for_status()
    ctx.opayo.post(
        "/_sandbox/notifications/faults",
        json={"seed": options.seed + 2, "duplicate_probability": 0.5, "reorder": True},
    ).raise_for_status()


def _arm_crashes(ctx: DemoContext, options: SoakOptions) -> None:
    if not options.faults:
        return
    lambdas = ctx.environment.runtime.lambdas  # type: ignore[union-attr]
    times = max(1, options.orders // 30)
    for module, method, path in CRASHES:
        lambdas.crash_after(module, method, path, times=times)


def _faults_fired(ctx: DemoContext) -> dict[str, int]:
    fired: dict[str, int] = {}
    runtime = ctx.environment.runtime
    for rule in runtime.lambdas.crash_rules if runtime is not None else []:
        if rule.fired:
            key = f"crash {rule.module} after {rule.method} {rule.path}"
            fired[key] = fired.get(key, 0) + rule.fired
    for name, client in (("amazon", ctx.amazon), ("opayo", ctx.opayo)):
        reply = client.get("/_sandbox/faults")
        if reply.status_code != 200:
            continue
        for entry in reply.json().get("fired", []):
            key = f"{name} {entry['operation']} {entry['kind']}"
            fired[key] = fired.get(key, 0) + 1
    return dict(sorted(fired.items()))


# -- the shop ---------------------------------------------------------------------------------


def _post_order(ctx: DemoContext, soak: SoakOrder, body: dict[str, Any]) -> None:
    """POST /orders as a shop does: a 5xx or a broken connection is tried again."""
    for _attempt in range(SHOP_ATTEMPTS):
        started = time.monotonic()
        try:
            reply = ctx.api.post("/orders", json=body)
        except httpx.HTTPError:
            soak.post_latencies.append(time.monotonic() - started)
            soak.post_statuses.append(0)
            continue
        soak.post_latencies.append(time.monotonic() - started)
        soak.post_statuses.append(reply.status_code)
        if reply.status_code >= 400:
            soak.post_refusals.append(f"{reply.status_code} {reply.text[:300]}")
        if reply.status_code < 500:
            return


def _order_body(ctx: DemoContext, order: dict[str, Any], payment: dict[str, Any]) -> dict[str, Any]:
    return {
        "order": order,
        "vendor": ctx.vendor,
        "sellerAccount": ctx.seller_account,
        "payment": payment,
    }


def _submit_twice(ctx: DemoContext, soak: SoakOrder, body: dict[str, Any]) -> None:
    with ThreadPoolExecutor(max_workers=2) as pair:
        for future in [pair.submit(_post_order, ctx, soak, body) for _ in range(2)]:
            future.result()


def _as_a_shop(call: Callable[[], T]) -> T:
    """A shop's own call to Opayo (session key, card identifier, Server completion): a broken
    connection is tried again, a few times, as a shop's checkout would."""
    for attempt in range(SHOP_ATTEMPTS):
        try:
            return call()
        except httpx.TransportError:
            if attempt == SHOP_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _start(ctx: DemoContext, soak: SoakOrder, rng: random.Random, deadline: float) -> None:
    """One shop's order, from submission until it has ended (the follower sees that)."""
    try:
        _submit_order(ctx, soak, rng)
    except Exception as error:  # the shop could not even submit: reported, not hidden
        soak.start_error = f"{type(error).__name__}: {str(error)[:200]}"
        return
    finally:
        soak.shop_done = True
    if not _accepted(soak):
        return  # refused: nothing will run (judged as never ended, with the refusals)
    while soak.ended_at is None and time.monotonic() < deadline:
        time.sleep(0.2)


def _accepted(soak: SoakOrder) -> bool:
    return any(200 <= status < 300 for status in soak.post_statuses)


def _card_session_expired(soak: SoakOrder) -> bool:
    """Refused because the shopper's card session ran out before Opayo saw it (a slow
    machine): a shop asks the shopper for the card again and submits the same order."""
    return not _accepted(soak) and any(
        r.startswith("400") and "paymentMethod.card." in r for r in soak.post_refusals[-2:]
    )


def _submit_order(ctx: DemoContext, soak: SoakOrder, rng: random.Random) -> None:
    soak.submitted_at = time.monotonic()
    order_id = soak.order_id
    if soak.kind in ("card", "declined", "out_of_stock", "cancel"):
        sku = "OPF-OUT-OF-STOCK" if soak.kind == "out_of_stock" else SOAK_SKU
        unit = DECLINED_AMOUNT // 2 if soak.kind == "declined" else 1299
        order = sample_order(order_id, sku=sku, unit=unit, qty=2 if sku == SOAK_SKU else 1)
        for _session in range(3):
            msk, card = _as_a_shop(ctx.card_identifier)
            payment = {
                "type": "pi_card",
                "merchantSessionKey": msk,
                "cardIdentifier": card,
                "strongCustomerAuthentication": BROWSER_DATA,
            }
            _submit_twice(ctx, soak, _order_body(ctx, order, payment))
            if not _card_session_expired(soak):
                break
    elif soak.kind == "capture_refused":
        payment = {
            "type": "pi_transaction",
            "transactionId": soak.deposit_transaction_id,
            "vendorTxCode": soak.vendor_tx_code,
        }
        _submit_twice(ctx, soak, _order_body(ctx, sample_order(order_id, sku=SOAK_SKU), payment))
    else:  # server
        vps_tx_id, key = _as_a_shop(lambda: ctx.register_server(soak.vendor_tx_code, 1850))
        payment = {
            "type": "server",
            "vendorTxCode": soak.vendor_tx_code,
            "vpsTxId": vps_tx_id,
            "securityKey": key,
        }
        order = sample_order(order_id, sku=SOAK_SKU, unit=1850, qty=1)
        _submit_twice(ctx, soak, _order_body(ctx, order, payment))
        _as_a_shop(lambda: ctx.complete_server(vps_tx_id))
    if soak.kind == "cancel":
        # A merchant changes their mind at a random moment: before capture, after, too late.
        deadline = time.monotonic() + rng.uniform(0.0, 3.0)
        while time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            soak.cancel_status = ctx.api.post(f"/orders/{order_id}/cancel").status_code
        except httpx.HTTPError:
            soak.cancel_status = 0


def _sweep_abandoned(ctx: DemoContext) -> None:
    """Run the hourly check for abandoned card payments as it would run once their age had
    passed (every shop has stopped by now, so no intake is in flight)."""
    runtime = ctx.environment.runtime
    assert runtime is not None
    for schedule in runtime.schedules.schedules.values():
        if "HeldAuthorisations" in schedule.name:
            event = {**json.loads(schedule.input or "{}"), "abandonedAfterMinutes": 0}
            runtime.lambdas.invoke(schedule.function, event)


def _ended(order: dict[str, Any]) -> bool:
    return order.get("status") in TERMINAL and bool(
        order.get("outcome") or order.get("status") == "shipped"
    )


# -- judging ----------------------------------------------------------------------------------


def _opayo_records(ctx: DemoContext) -> list[dict[str, Any]]:
    reply = ctx.opayo.get("/_sandbox/transactions")
    reply.raise_for_status()
    return list(reply.json()["transactions"])


def _amazon_orders(ctx: DemoContext) -> dict[str, dict[str, Any]]:
    sandbox = ctx.environment.amazon.app.state.sandbox  # type: ignore[union-attr]
    return {
        r["order"]["sellerFulfillmentOrderId"]: r
        for r in sandbox.state.store.all("fulfillment_order")
    }


def _judge(
    soak: SoakOrder,
    payments: list[dict[str, Any]],
    fulfillment: dict[str, Any] | None,
) -> list[str]:
    problems: list[str] = []
    tag = f"{soak.order_id} ({soak.kind})"
    if soak.start_error is not None:
        problems.append(f"{tag}: the shop could not submit it ({soak.start_error})")
    if soak.ended_at is None:
        problems.append(
            f"{tag}: never ended (status {soak.final.get('status')!r}, "
            f"outcome {soak.final.get('outcome')!r}; POST /orders answered {soak.post_statuses}"
            + (f": {' | '.join(soak.post_refusals)}" if soak.post_refusals else "")
            + ")"
        )
    if any(s == 0 or s >= 500 for s in soak.post_statuses[-1:]):
        problems.append(f"{tag}: POST /orders kept failing ({soak.post_statuses})")
    if len(payments) > 1:
        problems.append(f"{tag}: {len(payments)} payment transactions at Opayo")
    captured = sum(p.get("capturedAmount") or 0 for p in payments)
    refunded = sum(p.get("refundedAmount") or 0 for p in payments)
    captures = sum(p.get("captureCount", 0) for p in payments)
    if captures > 1:
        problems.append(f"{tag}: captured {captures} times")
    status = (fulfillment or {}).get("order", {}).get("fulfillmentOrderStatus")
    shipped = status in ("Complete", "CompletePartialled")
    if shipped and not captured:
        problems.append(f"{tag}: Amazon shipped it ({status}) but nothing was captured")
    if captured and not shipped and refunded < captured and soak.ended_at is not None:
        problems.append(
            f"{tag}: {captured} captured, {refunded} refunded, and Amazon did not ship it "
            f"(fulfillment {status})"
        )
    # Judged for every order, ended or not, stored or not: money held for an order we never
    # stored is the worst case of all.
    for p in payments:
        open_deferred = (
            p.get("transactionType") == "Deferred"
            and p.get("status") == "Ok"
            and not p.get("released")
            and not p.get("aborted")
        )
        if open_deferred:
            problems.append(f"{tag}: Deferred {p.get('vendorTxCode')} left authorised")
    return problems


def _dead_letters(region: str) -> list[str]:
    sqs = boto3.client("sqs", region_name=region)
    problems = []
    for url in sqs.list_queues().get("QueueUrls", []):
        if "dlq" not in url.lower() and "dead" not in url.lower():
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depth = sum(int(v) for v in attributes.values())
        if depth:
            problems.append(f"dead-letter queue {url.rsplit('/', 1)[-1]} holds {depth} messages")
    return problems


# -- the card-number scan ---------------------------------------------------------------------


def card_numbers_in(text: str) -> list[str]:
    """Card-shaped numbers in `text`, masked to their last four digits."""
    from opayo_fba.intake.orders import looks_like_card_number

    found = []
    for match in _CARD_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if looks_like_card_number(digits):
            found.append("*" * (len(digits) - 4) + digits[-4:])
    return found


def _stored_texts(region: str) -> Iterator[tuple[str, str]]:
    """(where, text) for every item, message and execution history the integration holds."""
    dynamodb = boto3.client("dynamodb", region_name=region)
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                yield f"table {table}", json.dumps(item, default=str)
    sqs = boto3.client("sqs", region_name=region)
    for url in sqs.list_queues().get("QueueUrls", []):
        # Visibility 0: reading changes nothing for the consumers.
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        for message in messages:
            yield f"queue {url.rsplit('/', 1)[-1]}", json.dumps(message, default=str)
    sfn = boto3.client("stepfunctions", region_name=region)
    for machine in sfn.list_state_machines()["stateMachines"]:
        arn = machine["stateMachineArn"]
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            for execution in page["executions"]:
                history = sfn.get_execution_history(
                    executionArn=execution["executionArn"], maxResults=1000
                )
                yield f"execution {execution['name']}", json.dumps(history["events"], default=str)


def _scan_for_cards(region: str, log_text: str) -> list[str]:
    found = [f"log: {number}" for number in card_numbers_in(log_text)]
    for where, text in _stored_texts(region):
        found += [f"{where}: {number}" for number in card_numbers_in(text)]
    return found


# -- the run ----------------------------------------------------------------------------------


def plan(options: SoakOptions, prefix: str = "SOAK") -> list[SoakOrder]:
    orders = []
    for index in range(options.orders):
        kind = options.kinds[index % len(options.kinds)]
        order_id = f"{prefix}-{index:04d}-{kind.upper().replace('_', '')}"
        code = {"capture_refused": f"SHOP-{order_id}", "server": f"SRV-{order_id}"}
        orders.append(SoakOrder(order_id, kind, code.get(kind, f"PAY-{order_id}")))
    return orders


def run_soak(options: SoakOptions) -> SoakReport:
    kept: list[str] = []
    logging.getLogger("stamina").setLevel(logging.ERROR)
    started = time.monotonic()
    with _captured_output(kept):
        environment = LocalEnvironment(_environment_options(options)).start()
        try:
            ctx = DemoContext(environment)
            orders = plan(options)
            for o in orders:
                if o.kind == "capture_refused":
                    o.deposit_transaction_id = ctx.deferred_transaction(o.vendor_tx_code, 1000)
            _configure_faults(ctx, options)
            _arm_crashes(ctx, options)
            rng = random.Random(options.seed)
            seeds = {o.order_id: rng.random() for o in orders}
            everything_in = threading.Event()
            follower = threading.Thread(
                target=_follow,
                args=(ctx, orders, started + options.timeout, everything_in, options.progress),
                daemon=True,
            )
            follower.start()
            with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
                deadline = started + options.timeout
                starts = [
                    pool.submit(_start, ctx, o, random.Random(seeds[o.order_id]), deadline)
                    for o in orders
                ]
                for future in starts:
                    future.result()
            everything_in.set()
            follower.join()
            fired = _faults_fired(ctx)
            environment.runtime.lambdas.clear_crashes()  # type: ignore[union-attr]
            _sweep_abandoned(ctx)
            # Judge with the faults off, so reading the records is not itself faulted.
            ctx.amazon.delete("/_sandbox/faults")
            ctx.opayo.delete("/_sandbox/faults")
            payments_by_code: dict[str, list[dict[str, Any]]] = {}
            for record in _opayo_records(ctx):
                if record.get("transactionType") in ("Deferred", "Payment"):
                    payments_by_code.setdefault(record["vendorTxCode"], []).append(record)
            fulfillment = _amazon_orders(ctx)
            violations = []
            for o in orders:
                violations += _judge(
                    o, payments_by_code.get(o.vendor_tx_code, []), fulfillment.get(o.order_id)
                )
            region = environment.options.region
            violations += _dead_letters(region)
            wall = time.monotonic() - started
            if options.log_file is not None:
                options.log_file.write_text("".join(kept), encoding="utf-8")
            cards = _scan_for_cards(region, "".join(kept))
            ctx.close()
        finally:
            environment.stop()
    return SoakReport(orders, violations, cards, wall, fired)


def _follow(
    ctx: DemoContext,
    orders: list[SoakOrder],
    deadline: float,
    everything_in: threading.Event,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Poll every submitted order until each has ended, or the deadline passes."""
    while time.monotonic() < deadline:
        for soak in [o for o in orders if o.ended_at is None and o.post_statuses]:
            try:
                found = ctx.api.get(f"/orders/{soak.order_id}")
            except httpx.HTTPError:
                continue
            if found.status_code == 200:
                soak.final = found.json()
                if _ended(soak.final):
                    soak.ended_at = time.monotonic()
        ended = sum(1 for o in orders if o.ended_at is not None)
        if progress is not None:
            progress(ended, len(orders))
        # Done when every order has ended or its shop gave up without one being accepted.
        settled = sum(
            1 for o in orders if o.ended_at is not None or (o.shop_done and not _accepted(o))
        )
        if everything_in.is_set() and settled == len(orders):
            return
        time.sleep(0.2)
