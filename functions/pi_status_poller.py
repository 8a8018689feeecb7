"""Read back pending Opayo Pi payments; decisions join the payment-events queue.

EventBridge Scheduler invokes it with `{"sellerAccountId": ...}` or `{"vendor": ...}`.
"""

from opayo_fba.lambda_support import scheduled_handler
from opayo_fba.scheduled import poll_pi_payments
from opayo_fba.settings.jobs import PiStatusPollerSettings

handler = scheduled_handler(poll_pi_payments, PiStatusPollerSettings)
