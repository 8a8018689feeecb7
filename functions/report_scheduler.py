"""Request FBA inventory reports and note new settlement reports, per seller account.

EventBridge Scheduler invokes it with `{"sellerAccountId": ...}` or `{"vendor": ...}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import schedule_reports
from opayo_fba.settings.jobs import ReportSchedulerSettings

handler = scheduled_handler(schedule_reports, ReportSchedulerSettings)
