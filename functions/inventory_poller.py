"""Poll FBA inventory summaries changed since the watermark, for the seller account the
schedule names, and announce each changed SKU (shop SKU) as InventoryLevelChanged.

EventBridge Scheduler invokes it with `{"sellerAccountId": ...}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import poll_inventory
from opayo_fba.settings.jobs import InventoryPollerSettings

handler = scheduled_handler(poll_inventory, InventoryPollerSettings)
