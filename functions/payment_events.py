"""Consume verified Opayo payment events.

Lambda handler, invoked by the payment-events FIFO queue (grouped by vendorTxCode).

Batch consumer: each record is handled on its own and failures are reported per record
(ReportBatchItemFailures), so one bad record never makes the good ones run twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from opayo_fba.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def handle_record(record: SQSRecord) -> None:
    # The domain function this handler calls lands with the saga issue.
    raise NotImplementedError("payment_events: implemented by the saga issue")


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
