"""Saga: refund the units Amazon did not ship (written down by MarkShipped), once.

Step Functions task; input and output are the saga state (identifiers only). Errors reach the
state machine by name (opayo_fba.saga.errors), which is what infra/saga.py retries and catches.
"""

from opayo_fba.lambda_support import saga_step_handler
from opayo_fba.saga.steps import refund_unshipped
from opayo_fba.settings.saga import PaymentStepSettings

handler = saga_step_handler(refund_unshipped, PaymentStepSettings)
