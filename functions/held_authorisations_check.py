"""Count Deferred authorisations held too long (the count alarms); abort per the merchant's
policy, before Opayo's 30-day limit.

EventBridge Scheduler invokes it with `{"vendor", "alarmAfterDays", "abortAfterDays"?}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import check_held_authorisations
from opayo_fba.settings.jobs import HeldAuthorisationsCheckSettings

handler = scheduled_handler(check_held_authorisations, HeldAuthorisationsCheckSettings)
