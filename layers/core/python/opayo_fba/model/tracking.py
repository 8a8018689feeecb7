"""A package's journey to the customer, as getPackageTrackingDetails reports it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from opayo_fba.model.address import CleanText
from opayo_fba.model.common import UtcDatetime
from opayo_fba.model.fulfillment import AmazonId


class PackageTrackingStatus(StrEnum):
    """FBA outbound 2020-07-01 `CurrentStatus`; a value Amazon adds later reads as UNKNOWN."""

    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    RETURNING = "RETURNING"
    RETURNED = "RETURNED"
    UNDELIVERABLE = "UNDELIVERABLE"
    DELAYED = "DELAYED"
    AVAILABLE_FOR_PICKUP = "AVAILABLE_FOR_PICKUP"
    CUSTOMER_ACTION = "CUSTOMER_ACTION"
    UNKNOWN = "UNKNOWN"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERY_ATTEMPTED = "DELIVERY_ATTEMPTED"
    PICKUP_SUCCESSFUL = "PICKUP_SUCCESSFUL"
    PICKUP_CANCELLED = "PICKUP_CANCELLED"
    PICKUP_ATTEMPTED = "PICKUP_ATTEMPTED"
    PICKUP_SCHEDULED = "PICKUP_SCHEDULED"
    RETURN_REQUEST_ACCEPTED = "RETURN_REQUEST_ACCEPTED"
    REFUND_ISSUED = "REFUND_ISSUED"
    RETURN_RECEIVED_IN_FC = "RETURN_RECEIVED_IN_FC"

    @classmethod
    def parse(cls, value: str | None) -> PackageTrackingStatus:
        """Amazon's value, or UNKNOWN for a missing or new one (never an error: the
        package is still worth following)."""
        try:
            return cls(str(value or "").strip().upper())
        except ValueError:
            return cls.UNKNOWN


FINAL_TRACKING_STATUSES = frozenset(
    {
        PackageTrackingStatus.DELIVERED,
        PackageTrackingStatus.UNDELIVERABLE,
        PackageTrackingStatus.RETURNED,
    }
)
"""Statuses after which a package no longer moves: stop following it."""


class TrackingEvent(BaseModel):
    """One carrier scan (`TrackingEvent`): when, where (city level) and what (`EVENT_301`...)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    at: UtcDatetime
    code: AmazonId
    description: CleanText = None
    city: CleanText = None
    state: CleanText = None
    country: Annotated[str, StringConstraints(max_length=6)] | None = None


class PackageTracking(BaseModel):
    """A package as last tracked. Events are oldest first."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    package_number: int
    tracking_number: CleanText = None
    carrier_code: AmazonId | None = None
    customer_tracking_link: Annotated[str, StringConstraints(max_length=2048)] | None = None
    current_status: PackageTrackingStatus
    status_description: CleanText = None
    shipped_at: UtcDatetime | None = None
    estimated_arrival_at: UtcDatetime | None = None
    events: tuple[TrackingEvent, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.current_status in FINAL_TRACKING_STATUSES

    @property
    def last_event_at(self) -> datetime | None:
        """The latest scan's time (for DELIVERED: when it was delivered)."""
        return self.events[-1].at if self.events else None
