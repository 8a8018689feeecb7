"""Saga compensation: refund what was captured, exactly once.

Step Functions task; input and output are the saga state (identifiers only). Errors reach the
state machine by name (opayo_fba.saga.errors), which is what infra/saga.py retries and catches.
"""

from opayo_fba.lambda_support import saga_step_handler
from opayo_fba.saga.steps import refund_payment
from opayo_fba.settings.saga import PaymentStepSettings

handler = saga_step_handler(refund_payment, PaymentStepSettings)
