"""Follow each shipped package to delivered, undeliverable or returned to sender, for the
seller account the schedule names.

EventBridge Scheduler invokes it with `{"sellerAccountId": ..., "intervalMinutes"?: ...}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import track_shipments
from opayo_fba.settings.jobs import AfterSaleTrackerSettings

handler = scheduled_handler(track_shipments, AfterSaleTrackerSettings)
