"""Saga: validate the order and its payment, map it to a fulfillment request.

Step Functions task; input and output are the saga state (identifiers only). Errors reach the
state machine by name (opayo_fba.saga.errors), which is what infra/saga.py retries and catches.
"""

from opayo_fba.lambda_support import saga_step_handler
from opayo_fba.saga.steps import validate_and_map
from opayo_fba.settings.saga import ValidateAndMapSettings

handler = saga_step_handler(validate_and_map, ValidateAndMapSettings)
