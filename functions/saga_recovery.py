"""Make a saga execution that failed, timed out or was aborted right (any reason at all).

EventBridge invokes it with Step Functions' own "Step Functions Execution Status Change"
event from the default bus (infra/recovery.py); the domain reads the order, Opayo and Amazon,
and gives back or keeps the money accordingly (opayo_fba.saga.recovery).
"""

from opayo_fba.lambda_support import saga_event_handler
from opayo_fba.saga.recovery import recover_execution
from opayo_fba.settings.saga import SagaRecoverySettings

handler = saga_event_handler(
    recover_execution, SagaRecoverySettings, correlation_id_path="detail.executionArn"
)
