"""The one place that creates the Logger, Tracer and Metrics every handler imports.

Powertools reads the service name and metric namespace from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, which the CDK app sets per function.

It also makes sure no log line ever carries a card number, whoever logs it:
- every log record of the process, from the Powertools Logger or any standard `logging`
  logger (boto3, httpx, ours), has its message, args and exception text masked as it is
  created (a record factory), and its extra fields masked by `CardNumberFilter` on the
  Powertools logger and on the root logger's handlers;
- the Powertools formatter masks the finished JSON line as well, so appended keys and
  stack traces are covered too.

The Tracer loads X-Ray when it first traces and has each library X-Ray instruments patched as
that library is imported, not at cold start (opayo_fba.tracing): same traces, and no function
imports httpx or requests only to patch them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from opayo_fba.card_numbers import mask_card_numbers, mask_value
from opayo_fba.tracing import DeferredXRayProvider, patch_libraries_on_import

# The attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_MARKER = "masks_card_numbers"


def mask_record(record: logging.LogRecord) -> None:
    """Mask card numbers in a record's message, args, extra fields and exception text."""
    if isinstance(record.msg, dict | list) and not record.args:
        record.msg = mask_value(record.msg)  # Powertools logs a dict message as JSON
    else:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # args that do not fit the format: keep both, masked
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask_card_numbers(message), None
    for name, value in list(vars(record).items()):
        if name not in _STANDARD_ATTRIBUTES:
            setattr(record, name, mask_value(value))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_card_numbers(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_card_numbers(record.stack_info)


class CardNumberFilter(logging.Filter):
    """Masks anything shaped like a card number in a record; never drops a record."""

    masks_card_numbers = True

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


class CardNumberMaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with card numbers masked in the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_card_numbers(super().format(record))


class _MaskingRecordFactory:
    masks_card_numbers = True

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self._previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous(*args, **kwargs)
        mask_record(record)
        return record


def _has_masking_filter(filterer: logging.Filterer) -> bool:
    return any(getattr(f, _MARKER, False) for f in filterer.filters)


def install_card_number_masking(powertools_logger: Logger) -> None:
    """Mask card numbers in every log record of the process (idempotent)."""
    if not getattr(logging.getLogRecordFactory(), _MARKER, False):
        logging.setLogRecordFactory(_MaskingRecordFactory(logging.getLogRecordFactory()))
    targets: list[logging.Filterer] = [
        logging.getLogger(powertools_logger.name),
        *logging.getLogger().handlers,
    ]
    for target in targets:
        if not _has_masking_filter(target):
            target.addFilter(CardNumberFilter())


logger: Logger = Logger(logger_formatter=CardNumberMaskingFormatter())
# X-Ray is imported when the first invocation starts tracing, and each library it instruments
# is patched as it is imported (opayo_fba.tracing), instead of both at cold start.
tracer: Tracer = Tracer(auto_patch=False, provider=DeferredXRayProvider())
patch_libraries_on_import(tracing=not tracer.disabled)
metrics: Metrics = Metrics()
install_card_number_masking(logger)


ACCOUNT_DIMENSION = "sellerAccount"
# Per seller account (dimensions service and sellerAccount), for the per-account alarms.
ACCOUNT_RECEIVED = "AccountOrdersReceived"  # order intake
ACCOUNT_COMPENSATED = "AccountOrdersCompensated"  # the saga's RecordOutcome, from here on
ACCOUNT_DECLINED = "AccountPaymentsDeclined"
ACCOUNT_UNFULFILLABLE = "AccountOrdersUnfulfillable"
ACCOUNT_HELD = "AccountHeldAuthorisations"  # the held-authorisations check


def account_metric(name: str, seller_account: str, value: float = 1) -> None:
    """A count for one seller account, published at once with the `service` and
    `sellerAccount` dimensions (Powertools `single_metric`): the per-account alarms and
    dashboard read these (infra/monitoring.py), so one account's trouble shows apart from
    another's."""
    import os

    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.exceptions import MetricValueError, SchemaValidationError

    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "opayo-fba")
    try:
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "OpayoFba",
            default_dimensions={"service": service},
        ) as metric:
            metric.add_dimension(name=ACCOUNT_DIMENSION, value=seller_account)
    except (MetricValueError, SchemaValidationError):
        # A count never stops an order or a payment: say so, and go on.
        logger.warning("per-account metric not published", extra={"metric": name})
