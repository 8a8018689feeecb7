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

Tracing patches each library X-Ray instruments (botocore, httpx, requests, ...) when that
library is first imported rather than at cold start: `Tracer()` alone would run X-Ray's
`patch_all`, which imports every such library installed only to patch it (httpx and requests in
every function, whether it makes an HTTP call or not). The same libraries are patched, each
before anything can use it, so traces hold the same subsegments.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from opayo_fba.card_numbers import mask_card_numbers, mask_value

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


# What X-Ray's patch_all patches (aws_xray_sdk.core.patcher.NO_DOUBLE_PATCH), each with the
# module whose import sets it off: the module its patch wraps.
PATCHED_ON_IMPORT: dict[str, str] = {
    "aiobotocore": "aiobotocore.client",
    "botocore": "botocore.client",
    "httpx": "httpx",
    "mysql": "mysql.connector",
    "pg8000": "pg8000",
    "psycopg": "psycopg",
    "psycopg2": "psycopg2",
    "pymongo": "pymongo",
    "pymysql": "pymysql",
    "pynamodb": "pynamodb",
    "requests": "requests",
    "sqlalchemy_core": "sqlalchemy",
    "sqlite3": "sqlite3",
}


def _xray_patch(library: str) -> Callable[[ModuleType], None]:
    def patch_when_imported(module: ModuleType) -> None:
        from aws_xray_sdk.core import patch

        # A submodule's hook runs before the import system binds it to its package, which
        # it does next; the patch reaches it through the package (`botocore.client`).
        package, _, name = module.__name__.rpartition(".")
        if package:
            setattr(sys.modules[package], name, module)

        # As patch_all does: a library X-Ray cannot patch is traced without, never broken.
        patch([library], raise_errors=False)

    return patch_when_imported


def patch_libraries_on_import(powertools_tracer: Tracer) -> None:
    """Have X-Ray patch each library it supports as that library is imported (at once for one
    imported already); nothing when tracing is off. wrapt's post-import hooks (wrapt is
    X-Ray's own dependency, which it imports anyway) run under the import machinery's lock,
    so a library imported from several threads is patched once, before any of them uses it."""
    if powertools_tracer.disabled:
        return
    import wrapt

    for library, module in PATCHED_ON_IMPORT.items():
        wrapt.register_post_import_hook(_xray_patch(library), module)


logger: Logger = Logger(logger_formatter=CardNumberMaskingFormatter())
tracer: Tracer = Tracer(auto_patch=False)
patch_libraries_on_import(tracer)
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
