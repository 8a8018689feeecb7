"""Following each shipped package to its end: delivered, undeliverable or returned to sender.

MarkShipped leaves the order in the sparse follow-up index (`OrderRecord.follow_up_at`). The
after-sale tracker (a schedule per seller account) reads the orders whose check is due, asks
Amazon for each package not yet at a final status (getPackageTrackingDetails, the only way
to learn of a delivery: sp-api reference, "After the sale"), within the account's shared rate
limit, and records what it says on the order. Each change of a package's status is a
`ShipmentUpdated` event; every package delivered is `OrderDelivered` (status `delivered`); a
package undeliverable or returned to the sender is `DeliveryFailed` (an alarmed metric: the
customer has not got the goods and the merchant must act). An order leaves the index when
nothing is left to follow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from opayo_fba.amazon.errors import SpApiNotFound
from opayo_fba.model import PackageTracking, PackageTrackingStatus
from opayo_fba.observability import metrics
from opayo_fba.saga.steps import SagaDependencies, save
from opayo_fba.store.orders import OrderRecord, package_numbers

FAILED_DELIVERY = frozenset({PackageTrackingStatus.UNDELIVERABLE, PackageTrackingStatus.RETURNED})
DEFAULT_INTERVAL = timedelta(hours=1)
MAX_ORDERS_PER_RUN = 100
"""A bound on one run (each order costs a call per open package at 2/s); the rest wait for
the next run, longest-waiting first."""


class PackageTracker(Protocol):
    def tracked_package(self, package_number: int) -> PackageTracking: ...


@dataclass
class TrackingRun:
    seller_account: str
    orders: int = 0
    packages_read: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def open_packages(record: OrderRecord) -> list[int]:
    """Packages not yet at a final tracking status."""
    final = {p.package_number for p in record.packages if p.is_final}
    return [number for number in package_numbers(record) if number not in final]


def track_order(
    deps: SagaDependencies,
    record: OrderRecord,
    amazon: PackageTracker,
    *,
    now: datetime,
    interval: timedelta = DEFAULT_INTERVAL,
    also_open: Callable[[OrderRecord], bool] = lambda r: False,
) -> list[PackageTracking]:
    """Read each open package's tracking and record it; returns the packages that changed.

    `also_open` says whether something else (a return not yet received) keeps the order in
    the follow-up index after its packages are all final.
    """
    order_id = record.order_id
    read: list[PackageTracking] = []
    for number in open_packages(record):
        try:
            read.append(amazon.tracked_package(number))
        except SpApiNotFound:
            continue  # not known to the carrier yet: asked again next time
    changed: list[PackageTracking] = []
    delivered_now: list[bool] = []

    def keep(r: OrderRecord) -> None:
        changed.clear()
        delivered_now.clear()
        was_delivered = r.all_delivered()
        known = {p.package_number: p for p in r.packages}
        for tracking in read:
            before = known.get(tracking.package_number)
            if before is None or before.current_status is not tracking.current_status:
                changed.append(tracking)
                r.note(
                    "package_tracking",
                    f"package {tracking.package_number}: {tracking.current_status.value}",
                )
            known[tracking.package_number] = tracking
        r.packages = [known[n] for n in sorted(known)]
        if r.all_delivered() and not was_delivered:
            delivered_now.append(True)
        left = open_packages(r)
        r.follow_up_at = now + interval if left or also_open(r) else None

    updated = save(deps, order_id, keep)
    for tracking in changed:
        deps.events.publish("ShipmentUpdated", _shipment_event(order_id, tracking))
        if tracking.current_status in FAILED_DELIVERY:
            metrics.add_metric(name="DeliveryFailures", unit=MetricUnit.Count, value=1)
            deps.events.publish(
                "DeliveryFailed",
                {
                    **_shipment_event(order_id, tracking),
                    "eventId": f"{order_id}#DeliveryFailed#{tracking.package_number}",
                },
            )
    if delivered_now:
        deps.events.publish(
            "OrderDelivered",
            {
                "eventId": f"{order_id}#OrderDelivered",
                "orderId": order_id,
                "deliveredAt": _latest(updated.packages),
                "packages": [_package(p) for p in updated.packages],
            },
        )
    return changed


def track_due_orders(
    deps: SagaDependencies,
    seller_account: str,
    amazon: PackageTracker,
    *,
    now: datetime,
    interval: timedelta = DEFAULT_INTERVAL,
    also_open: Callable[[OrderRecord], bool] = lambda r: False,
    each: Callable[[OrderRecord], None] | None = None,
) -> TrackingRun:
    """One run of the tracker for a seller account: every due order, at most MAX_ORDERS."""
    from opayo_fba.errors import OpayoFbaError

    run = TrackingRun(seller_account)
    for record in deps.store.due_for_follow_up(seller_account, now):
        if run.orders >= MAX_ORDERS_PER_RUN:
            break
        run.orders += 1
        try:
            if each is not None:
                each(record)
                record = deps.store.get(record.order_id)
            run.packages_read += len(open_packages(record))
            changed = track_order(
                deps, record, amazon, now=now, interval=interval, also_open=also_open
            )
        except OpayoFbaError as error:
            run.errors.append(f"{record.order_id}: {type(error).__name__}: {error}"[:300])
            continue
        run.delivered += sum(p.current_status is PackageTrackingStatus.DELIVERED for p in changed)
        run.failed += sum(p.current_status in FAILED_DELIVERY for p in changed)
    return run


def _package(tracking: PackageTracking) -> dict[str, Any]:
    return {
        "packageNumber": tracking.package_number,
        "trackingNumber": tracking.tracking_number,
        "carrierCode": tracking.carrier_code,
        "customerTrackingLink": tracking.customer_tracking_link,
        "status": tracking.current_status.value,
        "statusDescription": tracking.status_description,
        "estimatedArrivalAt": _iso(tracking.estimated_arrival_at),
        "lastEventAt": _iso(tracking.last_event_at),
    }


def _shipment_event(order_id: str, tracking: PackageTracking) -> dict[str, Any]:
    return {
        "eventId": f"{order_id}#package#{tracking.package_number}#{tracking.current_status.value}",
        "orderId": order_id,
        **_package(tracking),
    }


def _latest(packages: Iterable[PackageTracking]) -> str | None:
    moments = [p.last_event_at for p in packages if p.last_event_at is not None]
    return _iso(max(moments)) if moments else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
