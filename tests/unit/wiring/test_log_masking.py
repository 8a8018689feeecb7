"""No log line carries a card number, whoever logs it and however."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from aws_lambda_powertools import Logger

from opayo_fba.card_numbers import contains_card_number
from opayo_fba.observability import (
    CardNumberFilter,
    CardNumberMaskingFormatter,
    install_card_number_masking,
)

PAN = "4929000000006"


@pytest.fixture
def powertools() -> tuple[Logger, io.StringIO]:
    stream = io.StringIO()
    logger = Logger(
        service=f"masking-test-{uuid.uuid4().hex}",
        stream=stream,
        logger_formatter=CardNumberMaskingFormatter(),
    )
    install_card_number_masking(logger)
    return logger, stream


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_powertools_message_args_extra_keys_and_exceptions_are_masked(
    powertools: tuple[Logger, io.StringIO],
) -> None:
    logger, stream = powertools
    logger.info(f"card {PAN}")
    logger.info("card %s", "4929 0000 0000 6")
    logger.info("extra", extra={"pan": PAN, "nested": {"list": [int(PAN)]}})
    logger.append_keys(order_note=f"note {PAN}")
    logger.info({"dict": PAN})
    try:
        raise ValueError(f"bad postcode {PAN}")
    except ValueError:
        logger.exception("failed")
    logger.remove_keys(["order_note"])
    written = lines(stream)
    assert len(written) == 5
    for line in written:
        assert not contains_card_number(line), line
        assert "[card number removed]" in line
    assert json.loads(written[3])["message"] == {"dict": "[card number removed]"}


def test_standard_logging_records_are_masked_too(
    powertools: tuple[Logger, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("botocore.somewhere").info("sent %s", f"CardNumber={PAN}")
        logging.getLogger("httpx").warning("GET /orders/%d", int(PAN))
    assert len(caplog.records) == 2
    for record in caplog.records:
        assert not contains_card_number(record.getMessage())
    assert not contains_card_number(caplog.text)


def test_the_filter_masks_extra_fields_of_any_record() -> None:
    record = logging.makeLogRecord({"msg": "x %s", "args": (PAN,), "pan": f"a {PAN}"})
    assert CardNumberFilter().filter(record)
    assert not contains_card_number(record.getMessage())
    assert not contains_card_number(record.__dict__["pan"])


def test_installing_twice_adds_one_filter_and_one_factory(
    powertools: tuple[Logger, io.StringIO],
) -> None:
    logger, _ = powertools
    factory = logging.getLogRecordFactory()
    install_card_number_masking(logger)
    assert logging.getLogRecordFactory() is factory
    own = logging.getLogger(logger.name).filters
    assert sum(isinstance(f, CardNumberFilter) for f in own) == 1
