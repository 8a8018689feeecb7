"""What every handler shares: the wiring, the time budget, saga steps, scheduled jobs.

Domain exceptions become HTTP statuses in `opayo_fba.api.errors` (the HTTP functions'
resolver) and nowhere else; saga steps raise their errors by name (`opayo_fba.saga.errors`)
for the state machine, through `step_errors()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from opayo_fba.observability import logger, metrics, tracer
from opayo_fba.settings import Settings, load_settings, settings
from opayo_fba.wiring import Wiring

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

# Seconds kept back from the Lambda timeout for writing results after a rate-limit wait.
TIME_MARGIN_SECONDS = 5.0


class _Invocation:
    context: Any = None


_invocation = _Invocation()


def time_budget() -> float:
    """Seconds this invocation may still spend waiting (rate limits, retries)."""
    context = _invocation.context
    if context is None:
        return 10.0
    remaining_ms = float(context.get_remaining_time_in_millis())
    return max(0.0, remaining_ms / 1000 - TIME_MARGIN_SECONDS)


def remember_context(context: Any) -> None:
    _invocation.context = context


@cache
def wiring() -> Wiring:
    return Wiring(settings(), time_budget=time_budget)


# -- Step Functions tasks -----------------------------------------------------------------------

Step = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def saga_step_handler(
    step: Step, model: type[Settings]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for one saga step: observability, the wiring, the step. Nothing else.

    Built at import with the step's settings `model`, so a missing setting fails the cold
    start, not the first order.
    """
    load_settings(model)

    @logger.inject_lambda_context(correlation_id_path="orderId")
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remember_context(context)
        return step(event, wiring().saga())

    handler.__name__ = f"{step.__name__}_handler"
    return handler


def saga_event_handler(
    job: Step, model: type[Settings], *, correlation_id_path: str
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for an EventBridge event about the saga (e.g. an execution ended)."""
    load_settings(model)

    @logger.inject_lambda_context(correlation_id_path=correlation_id_path)
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remember_context(context)
        return job(event, wiring().saga())

    handler.__name__ = f"{job.__name__}_handler"
    return handler


# -- scheduled jobs -----------------------------------------------------------------------------

Job = Callable[[Mapping[str, Any], Wiring], dict[str, Any]]
FollowUp = Callable[[Wiring], dict[str, Any]]


def scheduled_handler(
    job: Job, model: type[Settings], *, then: FollowUp | None = None
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for one scheduled job: observability, the wiring, the job, and the
    step `then` runs after it (e.g. the journal, once a poll may have made reports ready);
    its settings `model` is loaded at import (the cold start fails on a missing variable)."""
    load_settings(model)

    @logger.inject_lambda_context
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        remember_context(context)
        w = wiring()
        result = job(event, w)
        if then is not None:
            result = {**result, **then(w)}
        logger.info("scheduled job done", extra={"job": job.__name__, **result})
        return result

    handler.__name__ = f"{job.__name__}_handler"
    return handler


# -- SQS consumers -----------------------------------------------------------------------------


class IdempotentOnFirstCall:
    """`function` made idempotent by Powertools on a DynamoDB table, built when first called.

    Powertools' idempotency utility imports boto3 and the persistence layer builds a DynamoDB
    client: a cold start need not pay for them before its first record arrives, as every other
    function builds its clients on first use. The wrapped function keeps its module and name,
    which Powertools' idempotency keys are made of, so records written before stay valid.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        data_keyword_argument: str,
        event_key_jmespath: str,
        table_name: str,
        expires_after_seconds: int,
    ) -> None:
        self._function = function
        self._argument = data_keyword_argument
        self._key = event_key_jmespath
        self._table = table_name
        self._expires = expires_after_seconds
        self._lock = threading.Lock()
        self._built: tuple[Any, Callable[..., Any]] | None = None

    def _get(self) -> tuple[Any, Callable[..., Any]]:
        with self._lock:
            if self._built is None:
                from aws_lambda_powertools.utilities.idempotency import (
                    DynamoDBPersistenceLayer,
                    IdempotencyConfig,
                    idempotent_function,
                )

                config = IdempotencyConfig(
                    event_key_jmespath=self._key, expires_after_seconds=self._expires
                )
                persistence = DynamoDBPersistenceLayer(table_name=self._table)
                wrapped = idempotent_function(
                    data_keyword_argument=self._argument,
                    config=config,
                    persistence_store=persistence,
                )(self._function)
                self._built = (config, wrapped)
            return self._built

    def register_lambda_context(self, context: Any) -> None:
        """What Powertools needs for its remaining-time checks, once per invocation."""
        self._get()[0].register_lambda_context(context)

    def __call__(self, **data: Any) -> Any:
        return self._get()[1](**data)


@cache
def _batch_processor(fifo: bool) -> Any:
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        SqsFifoPartialProcessor,
    )

    if fifo:
        return SqsFifoPartialProcessor(skip_group_on_error=True)
    return BatchProcessor(event_type=EventType.SQS)


def consume_batch(
    event: dict[str, Any],
    context: Any,
    record_handler: Callable[[Any], None],
    *,
    fifo: bool,
    idempotent: IdempotentOnFirstCall,
) -> PartialItemFailureResponse:
    """One SQS batch through Powertools' batch processor, built at the first batch (its
    utilities take about 90 ms to import): on a FIFO queue a failure holds back only its own
    message group, on a standard queue only the failed records come back
    (ReportBatchItemFailures)."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    idempotent.register_lambda_context(context)
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=_batch_processor(fifo),
        context=context,
    )
