"""The scheduled jobs: what each schedule's Lambda does, for the account its input names.

Each schedule carries `{"sellerAccountId": ...}` or `{"vendor": ...}` (infra/schedules.py), so
one throttled account never delays another. A job takes what it needs from the composition
root (wiring.py) and calls one domain function; the handlers in functions/ only add
observability. Journalling is a step of its own (`journal_ready`): the report poller's and the
batch fetcher's functions run it after their job (functions/report_poller.py,
functions/opayo_batch_fetch.py), since either may have made a settlement or batch ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opayo_fba.errors import InvalidInputError
from opayo_fba.wiring import Wiring


def _account(event: Mapping[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"the schedule's input must name {key!r}; got {sorted(event)}")
    return value


def _summary(result: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(result) and not isinstance(result, type):
        return {k: v for k, v in asdict(result).items() if isinstance(v, int | str | bool)}
    return {}


def poll_orders(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    from opayo_fba.jobs.amazon_orders import poll_amazon_orders

    account = _account(event, "sellerAccountId")
    # Every marketplace of the account (the schedule's input, from cdk.json); the account's
    # own from its secret when the input names none.
    marketplaces = event.get("marketplaceIds") or ()
    if not isinstance(marketplaces, list) or not all(isinstance(m, str) for m in marketplaces):
        raise InvalidInputError("marketplaceIds must be a list of marketplace ids")
    result = poll_amazon_orders(
        w.amazon(account),
        w.watermarks,
        account,
        datetime.now(UTC),
        orders=w.amazon_orders,
        events=w.events,
        skus=w.sku_mapping(account),
        marketplace_ids=tuple(marketplaces),
    )
    return _summary(result)


def poll_inventory(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    """FBA inventory summaries changed since the watermark -> InventoryLevelChanged."""
    from opayo_fba.jobs.amazon_inventory import poll_amazon_inventory

    account = _account(event, "sellerAccountId")
    result = poll_amazon_inventory(
        w.amazon(account),
        w.watermarks,
        account,
        datetime.now(UTC),
        inventory=w.inventory,
        events=w.events,
        skus=w.sku_mapping(account),
    )
    return {**_summary(result), "unmapped_seller_skus": len(result.unmapped_seller_skus)}


def poll_pi_payments(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    """Pending Pi payments read back from Opayo and applied like a notification would be."""
    from opayo_fba.jobs.pi_statuses import poll_pi_statuses

    vendor = _account(event, "vendor")
    result = poll_pi_statuses(w.pending_payments, {vendor: w.pi(vendor)}, w.starter)
    return _summary(result)


def schedule_reports(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    from opayo_fba.jobs.amazon_reports import schedule_amazon_reports

    account = _account(event, "sellerAccountId")
    result = schedule_amazon_reports(
        w.amazon(account), w.report_ledger, w.watermarks, account, datetime.now(UTC)
    )
    return _summary(result)


def poll_reports(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    """Requested reports that are done: archived, inventory levels applied, settlements
    marked ready for the journal."""
    from opayo_fba.jobs.amazon_reports import poll_amazon_reports

    account = _account(event, "sellerAccountId")
    result = poll_amazon_reports(
        w.amazon(account),
        w.report_ledger,
        w.report_archive,
        account,
        datetime.now(UTC),
        inventory=w.inventory,
        events=w.events,
        skus=w.sku_mapping(account),
    )
    return _summary(result)


def fetch_batches(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    """The vendor's settlement batches since the watermark: archived, marked ready."""
    from opayo_fba.jobs.opayo_batches import fetch_opayo_batches

    vendor = _account(event, "vendor")
    result = fetch_opayo_batches(
        w.reporting(vendor),
        w.report_ledger,
        w.watermarks,
        w.report_archive,
        vendor,
        datetime.now(UTC),
    )
    return _summary(result)


def journal_ready(w: Wiring) -> dict[str, Any]:
    """Reconcile whatever reports and batches are ready into journal entries."""
    from opayo_fba.jobs.journals import journal_ready_reports
    from opayo_fba.jobs.order_book import order_book
    from opayo_fba.reconcile.config import load_config

    path = w.chart_of_accounts()
    if path is None or not path.is_file():
        return {"journal": "skipped: no chart of accounts (set chartOfAccounts in cdk.json)"}
    run = journal_ready_reports(
        w.report_ledger,
        w.report_archive,
        load_config(path),
        w.events,
        orders=order_book(w.order_export.all_orders()),
    )
    return {"journal": "nothing ready" if run is None else "written"}


def _days(event: Mapping[str, Any], key: str, *, required: bool) -> int | None:
    value = event.get(key)
    if value is None and not required:
        return None
    return _whole(value, key, "days", 1, 29)


def _whole(value: Any, key: str, unit: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInputError(
            f"the schedule's {key!r} must be a whole number of {unit}, {low}-{high}"
        )
    return value


def check_held_authorisations(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    """Deferred authorisations of one vendor held too long: counted, aborted per its policy.

    The schedule's input carries the policy (infra/schedules.py, from cdk.json):
    `{"vendor", "alarmAfterDays", "abortAfterDays"?}`.
    """
    from datetime import timedelta

    from aws_lambda_powertools.metrics import MetricUnit

    from opayo_fba.observability import metrics
    from opayo_fba.saga.held_authorisations import check_held_authorisations as check

    vendor = _account(event, "vendor")
    abandoned = _abandoned_payments(event, w, vendor)
    refunds = _pending_refunds(event, w, vendor)
    alarm_days = _days(event, "alarmAfterDays", required=True)
    abort_days = _days(event, "abortAfterDays", required=False)
    result = check(
        vendor,
        w.saga(),
        now=datetime.now(UTC),
        alarm_after=timedelta(days=alarm_days or 0),
        abort_after=None if abort_days is None else timedelta(days=abort_days),
    )
    # The HeldAuthorisations alarm reads this (infra/monitoring.py), and per seller account
    # HeldAuthorisations-<account> reads the account's own count.
    metrics.add_metric(name="HeldAuthorisations", unit=MetricUnit.Count, value=result.held_too_long)
    from opayo_fba.observability import ACCOUNT_HELD, account_metric

    for account, count in sorted(result.held_by_account.items()):
        account_metric(ACCOUNT_HELD, account, count)
    metrics.add_metric(
        name="HeldAuthorisationsAborted", unit=MetricUnit.Count, value=result.aborted
    )
    metrics.add_metric(
        name="AbandonedCardPaymentsEnded",
        unit=MetricUnit.Count,
        value=abandoned.aborted + abandoned.refunded,
    )
    metrics.add_metric(name="PendingRefundsLeft", unit=MetricUnit.Count, value=refunds["left"])
    return {
        **_summary(result),
        **{f"abandoned_{k}": v for k, v in _summary(abandoned).items()},
        **{f"pending_refunds_{k}": v for k, v in refunds.items()},
    }


DEFAULT_PENDING_REFUND_MINUTES = 10


def _pending_refunds(event: Mapping[str, Any], w: Wiring, vendor: str) -> dict[str, int]:
    """Refunds written down that Opayo never answered (a lost answer, a function stopped, a
    shop that did not retry): carried out now, each resolved from Opayo's records first."""
    from datetime import timedelta

    from opayo_fba.saga.errors import SagaError
    from opayo_fba.saga.steps import execute_pending_refunds

    key = "pendingRefundAfterMinutes"
    minutes = _whole(event.get(key, DEFAULT_PENDING_REFUND_MINUTES), key, "minutes", 0, 1440)
    older_than = datetime.now(UTC) - timedelta(minutes=minutes)
    deps = w.saga()
    counts = {"issued": 0, "refused": 0, "left": 0}
    for record in w.store.pending_refunds(vendor, older_than):
        try:
            done = execute_pending_refunds(deps, record.order_id)
        except SagaError:
            counts["left"] += 1  # Opayo could not be asked: the next run tries again
            continue
        for refund in done:
            counts["issued" if refund.status == "succeeded" else "refused"] += 1
    return counts


DEFAULT_ABANDONED_AFTER_MINUTES = 15


def _abandoned_payments(event: Mapping[str, Any], w: Wiring, vendor: str) -> Any:
    """Card payments whose order never reached us, ended from Opayo's records first (a
    payment held for an unknown order is worse than a late alarm)."""
    from datetime import timedelta

    from opayo_fba.intake.abandoned import sweep_abandoned_card_payments

    key = "abandonedAfterMinutes"
    minutes = _whole(event.get(key, DEFAULT_ABANDONED_AFTER_MINUTES), key, "minutes", 0, 1440)
    return sweep_abandoned_card_payments(
        vendor,
        w.store,
        w.pi(vendor),
        older_than=datetime.now(UTC) - timedelta(minutes=minutes),
    )


DEFAULT_TRACKING_INTERVAL_MINUTES = 60


def track_shipments(event: Mapping[str, Any], w: Wiring) -> dict[str, Any]:
    """After the sale, for one seller account: each shipped package followed to delivered,
    undeliverable or returned to sender (after_sale/tracking.py).

    The schedule's input: `{"sellerAccountId", "intervalMinutes"?}` (how long until an order
    still under way is looked at again; default 60).
    """
    from datetime import timedelta

    from opayo_fba.after_sale.returns import open_returns, receive_returns
    from opayo_fba.after_sale.tracking import track_due_orders
    from opayo_fba.saga import steps

    account = _account(event, "sellerAccountId")
    key = "intervalMinutes"
    minutes = _whole(event.get(key, DEFAULT_TRACKING_INTERVAL_MINUTES), key, "minutes", 5, 1440)
    deps = w.saga()
    amazon = w.amazon(account)
    received: list[str] = []

    def returns(record: Any) -> None:
        """A return not received yet: read the fulfillment order, refund what came back."""
        if not open_returns(record):
            return
        sfo_id = str((record.fulfillment_request or {}).get("sellerFulfillmentOrderId"))
        fresh = steps.read_fulfillment(amazon, sfo_id, record.order_id)

        def keep(r: Any) -> None:
            r.fulfillment = fresh

        updated = steps.save(deps, record.order_id, keep)
        done = receive_returns(deps, updated, deductions=w.config.return_deductions)
        received.extend(r.return_id for r in done)

    run = track_due_orders(
        deps,
        account,
        amazon,
        now=datetime.now(UTC),
        interval=timedelta(minutes=minutes),
        also_open=open_returns,
        each=returns,
    )
    return {**_summary(run), "returns_received": len(received)}
