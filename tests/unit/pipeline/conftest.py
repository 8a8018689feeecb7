from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from opayo_fba.jobs.archive import ReportArchive
from opayo_fba.store.inventory import InventoryStore
from opayo_fba.store.report_requests import ReportLedger
from opayo_fba.store.watermarks import WatermarkStore
from tests.unit.polling.support import REPORTS_BUCKET, create_reports_bucket, create_state_table


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def state_table(aws: None) -> Any:
    return create_state_table()


@pytest.fixture
def s3(aws: None) -> Any:
    return create_reports_bucket()


@pytest.fixture
def archive(s3: Any) -> ReportArchive:
    return ReportArchive(s3, REPORTS_BUCKET)


@pytest.fixture
def ledger(state_table: Any) -> ReportLedger:
    return ReportLedger(state_table)


@pytest.fixture
def inventory(state_table: Any) -> InventoryStore:
    return InventoryStore(state_table)


@pytest.fixture
def watermarks(state_table: Any) -> WatermarkStore:
    return WatermarkStore(state_table)
