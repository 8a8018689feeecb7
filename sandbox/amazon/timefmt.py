"""Timestamps the way SP-API writes and reads them (ISO 8601, UTC, `Z`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.amazon.errors import invalid_input


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def parse_param(name: str, value: str) -> datetime:
    """A timestamp from a query parameter or body field; 400 naming the field if it is bad."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_input(
            f"Invalid {name}: {value!r} is not an ISO 8601 date-time.", name
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
