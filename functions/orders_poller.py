"""Poll Amazon Orders since the watermark, for the seller account the schedule names.

EventBridge Scheduler invokes it with `{"sellerAccountId": ...}` or `{"vendor": ...}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import poll_orders
from opayo_fba.settings.jobs import OrdersPollerSettings

handler = scheduled_handler(poll_orders, OrdersPollerSettings)
