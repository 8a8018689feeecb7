"""Typed results of the Amazon connector that have no canonical model (reports, previews).

Orders and fulfillment orders are returned as SP-API payload dicts until the canonical
models and converters (`opayo_fba.model`, `opayo_fba.convert`) take them over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OrdersUpdate:
    orders: list[dict[str, Any]]
    """Orders v0 `Order` objects, every page."""
    last_updated_before: datetime | None
    """Amazon's `LastUpdatedBefore`: the next watermark (None if Amazon did not say)."""


@dataclass(frozen=True)
class ReportInfo:
    report_id: str
    report_type: str
    processing_status: str
    """IN_QUEUE, IN_PROGRESS, DONE, CANCELLED or FATAL."""
    document_id: str | None
    created_time: datetime | None
    data_start_time: datetime | None
    data_end_time: datetime | None

    @property
    def done(self) -> bool:
        return self.processing_status == "DONE"

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ReportInfo:
        return cls(
            report_id=str(payload["reportId"]),
            report_type=str(payload.get("reportType", "")),
            processing_status=str(payload.get("processingStatus", "")),
            document_id=payload.get("reportDocumentId"),
            created_time=_time(payload.get("createdTime")),
            data_start_time=_time(payload.get("dataStartTime")),
            data_end_time=_time(payload.get("dataEndTime")),
        )


@dataclass(frozen=True)
class FulfillmentPreview:
    shipping_speed_category: str
    is_fulfillable: bool
    unfulfillable_items: list[dict[str, Any]] = field(default_factory=list)
    estimated_fees: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> FulfillmentPreview:
        return cls(
            shipping_speed_category=str(payload.get("shippingSpeedCategory", "")),
            is_fulfillable=bool(payload.get("isFulfillable")),
            unfulfillable_items=list(payload.get("unfulfillablePreviewItems") or []),
            estimated_fees=list(payload.get("estimatedFees") or []),
            raw=payload,
        )


@dataclass(frozen=True)
class ReturnReasonCode:
    """One of listReturnReasonCodes' `reasonCodeDetails`: a code createFulfillmentReturn
    accepts for the SKU."""

    code: str
    description: str
    translated_description: str | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ReturnReasonCode:
        return cls(
            code=str(payload["returnReasonCode"]),
            description=str(payload.get("description") or ""),
            translated_description=payload.get("translatedDescription"),
        )


@dataclass(frozen=True)
class DownloadedDocument:
    """A report document written to a sink: how many bytes, and the charset Amazon named."""

    size: int
    content_type: str | None = None

    @property
    def charset(self) -> str | None:
        from opayo_fba.amazon.charsets import declared_charset

        return declared_charset(self.content_type)
