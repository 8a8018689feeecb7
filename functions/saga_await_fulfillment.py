"""Saga: wait for Amazon's next word on the fulfillment order (a task token).

Step Functions `lambda:invoke.waitForTaskToken` task. The token is stored on the order; the
SP-API notification consumer or the merchant's cancellation resumes the saga with the new
status, and the task's timeout falls back to polling Amazon.
"""

from opayo_fba.lambda_support import saga_step_handler
from opayo_fba.saga.steps import await_fulfillment_update
from opayo_fba.settings.saga import SagaStepSettings

handler = saga_step_handler(await_fulfillment_update, SagaStepSettings)
