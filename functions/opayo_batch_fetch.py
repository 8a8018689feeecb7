"""Archive every Opayo settlement batch settled since the watermark, per vendor; then journal
whatever settlements and batches are ready.

EventBridge Scheduler invokes it with `{"sellerAccountId": ...}` or `{"vendor": ...}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import fetch_batches, journal_ready
from opayo_fba.settings.jobs import OpayoBatchFetchSettings

handler = scheduled_handler(fetch_batches, OpayoBatchFetchSettings, then=journal_ready)
