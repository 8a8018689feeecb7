"""Following packages after the sale (opayo_fba.after_sale.tracking), against a fake carrier."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from opayo_fba.after_sale.tracking import DEFAULT_INTERVAL, track_due_orders
from opayo_fba.amazon.errors import SpApiNotFound
from opayo_fba.model import PackageTracking
from opayo_fba.saga import steps
from tests.fixtures.saga_world import World, authorised_payment, make_order
from tests.unit.saga.test_mark_shipped import _shipped_order


@dataclass
class Carrier:
    statuses: dict[int, str] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)

    def tracked_package(self, package_number: int) -> PackageTracking:
        self.asked.append(package_number)
        status = self.statuses.get(package_number)
        if status is None:
            raise SpApiNotFound("getPackageTrackingDetails", 404, "NotFound", "no package")
        return PackageTracking.model_validate(
            {
                "package_number": package_number,
                "tracking_number": "RM123456789GB",
                "carrier_code": "Royal Mail",
                "current_status": status,
            }
        )


NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _shipped(world: World) -> datetime:
    """Ship W-1001; the moment its tracking starts (mark_shipped reads the wall clock, so the
    test's times are taken from it, not from a fixed date that the clock will pass)."""
    steps.mark_shipped(_shipped_order(world, unfulfillable=0), world.deps)
    shipped = world.store.get("W-1001").follow_up_at
    assert shipped is not None
    return shipped


def test_a_parcel_is_followed_until_delivered_and_announced_once(world: World) -> None:
    NOW = _shipped(world)
    carrier = Carrier({1: "IN_TRANSIT"})

    first = track_due_orders(world.deps, "uk-main", carrier, now=NOW + timedelta(seconds=1))
    record = world.store.get("W-1001")
    assert first.orders == 1
    assert record.status.value == "shipped"
    assert record.follow_up_at == NOW + timedelta(seconds=1) + timedelta(hours=1)
    # Not due yet: nothing is asked.
    track_due_orders(world.deps, "uk-main", carrier, now=NOW + timedelta(minutes=30))
    assert carrier.asked == [1]

    carrier.statuses[1] = "DELIVERED"
    later = NOW + timedelta(hours=2)
    track_due_orders(world.deps, "uk-main", carrier, now=later)
    track_due_orders(world.deps, "uk-main", carrier, now=later + timedelta(hours=2))

    record = world.store.get("W-1001")
    assert record.status.value == "delivered"
    assert record.follow_up_at is None
    assert carrier.asked == [1, 1]
    kinds = [kind for kind, _ in world.events.published]
    assert kinds.count("OrderDelivered") == 1
    assert [d["status"] for k, d in world.events.published if k == "ShipmentUpdated"] == [
        "IN_TRANSIT",
        "DELIVERED",
    ]


def test_an_unknown_package_is_asked_again_and_a_lost_one_is_a_failed_delivery(
    world: World,
) -> None:
    NOW = _shipped(world)
    carrier = Carrier()
    asked_at = NOW + timedelta(seconds=1)
    track_due_orders(world.deps, "uk-main", carrier, now=asked_at)
    assert world.store.get("W-1001").follow_up_at == asked_at + DEFAULT_INTERVAL  # asked again

    carrier.statuses[1] = "UNDELIVERABLE"
    track_due_orders(world.deps, "uk-main", carrier, now=NOW + timedelta(hours=2))
    record = world.store.get("W-1001")
    assert record.follow_up_at is None
    assert record.status.value == "shipped"  # lost by the carrier: the merchant must act
    assert [d["status"] for k, d in world.events.published if k == "DeliveryFailed"] == [
        "UNDELIVERABLE"
    ]


def test_an_order_never_shipped_is_not_followed(world: World) -> None:
    world.add_order(make_order("W-2"), authorised_payment("W-2"))
    assert track_due_orders(world.deps, "uk-main", Carrier(), now=NOW).orders == 0
