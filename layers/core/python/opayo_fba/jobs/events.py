"""Canonical event names the pollers and the report pipeline publish (detail-type)."""

from __future__ import annotations

from typing import Final

ORDER_STATUS_CHANGED: Final = "OrderStatusChanged"
INVENTORY_LEVEL_CHANGED: Final = "InventoryLevelChanged"
