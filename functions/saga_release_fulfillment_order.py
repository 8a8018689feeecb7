"""Saga: update the fulfillment order from Hold to Ship.

Step Functions task; input and output are the saga state (identifiers only). Errors reach the
state machine by name (opayo_fba.saga.errors), which is what infra/saga.py retries and catches.
"""

from opayo_fba.lambda_support import saga_step_handler
from opayo_fba.saga.steps import release_fulfillment_order
from opayo_fba.settings.saga import AmazonStepSettings

handler = saga_step_handler(release_fulfillment_order, AmazonStepSettings)
