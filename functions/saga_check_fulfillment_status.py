"""Saga: read the fulfillment order's status (or the merchant's cancellation).

Step Functions task; input and output are the saga state (identifiers only). Errors reach the
state machine by name (opayo_fba.saga.errors), which is what infra/saga.py retries and catches.
"""

from opayo_fba.lambda_support import saga_step_handler
from opayo_fba.saga.steps import check_fulfillment_status
from opayo_fba.settings.saga import AmazonStepSettings

handler = saga_step_handler(check_fulfillment_status, AmazonStepSettings)
