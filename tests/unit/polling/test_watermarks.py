from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opayo_fba.store.watermarks import WatermarkStore, from_iso, to_iso

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def test_a_watermark_starts_empty_and_only_moves_forward(state_table: Any) -> None:
    marks = WatermarkStore(state_table)
    assert marks.get("uk-main", "orders") is None
    assert marks.advance("uk-main", "orders", T0)
    assert marks.get("uk-main", "orders") == T0
    assert not marks.advance("uk-main", "orders", T0 - timedelta(seconds=1))
    assert not marks.advance("uk-main", "orders", T0)
    assert marks.get("uk-main", "orders") == T0
    assert marks.advance("uk-main", "orders", T0 + timedelta(microseconds=1))
    assert marks.get("uk-main", "orders") == T0 + timedelta(microseconds=1)
    # Scopes and names are independent.
    assert marks.get("de-main", "orders") is None
    assert marks.get("uk-main", "settlement-reports") is None


def test_watermarks_are_utc_and_sort_as_strings() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_iso(datetime(2026, 11, 28, 10, 0))  # noqa: DTZ001 - the naive value under test
    earlier, later = to_iso(T0), to_iso(T0 + timedelta(microseconds=5))
    assert earlier < later
    assert from_iso(later) - from_iso(earlier) == timedelta(microseconds=5)


def test_a_watermark_needs_a_scope_and_a_name(state_table: Any) -> None:
    with pytest.raises(ValueError, match="scope and a name"):
        WatermarkStore(state_table).get("", "orders")
