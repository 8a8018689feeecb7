from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from tests.unit.polling.support import create_orders_table, create_state_table


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def orders_table(aws: None) -> Any:
    return create_orders_table()


@pytest.fixture
def state_table(aws: None) -> Any:
    return create_state_table()
