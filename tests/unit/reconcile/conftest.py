from __future__ import annotations

import pytest

from opayo_fba.reconcile.config import ReconcileConfig
from tests.unit.reconcile.builders import config


@pytest.fixture
def chart() -> ReconcileConfig:
    """The example chart of accounts and fee schedule shipped in config/."""
    return config()
