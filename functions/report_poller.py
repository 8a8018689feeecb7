"""Wait for requested reports, archive their documents to S3, apply inventory levels; then
journal whatever settlements and batches are ready.

EventBridge Scheduler invokes it with `{"sellerAccountId": ...}` or `{"vendor": ...}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import journal_ready, poll_reports
from opayo_fba.settings.jobs import ReportPollerSettings

handler = scheduled_handler(poll_reports, ReportPollerSettings, then=journal_ready)
