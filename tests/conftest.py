"""Fixtures every test layer shares."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No property test is judged on the wall clock: on 2 busy cores an example may take longer
# than Hypothesis's default 200 ms deadline without anything being wrong.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

pytest_plugins = [
    "tests.fixtures.amazon_sandbox",
    "tests.fixtures.opayo_sandbox",
    "tests.fixtures.saga_world",
    "tests.fixtures.cloud_assembly",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The official SP-API models, packaged with the code (what the connector validates against).
SP_API_MODELS = (
    PROJECT_ROOT / "layers" / "core" / "python" / "opayo_fba" / "amazon" / "official_models"
)
# Where they are copied from: the shared folder beside a developer's checkout (a user's clone
# has none; the test comparing the two is skipped there).
SHARED_SP_API_MODELS = PROJECT_ROOT.parent / "shared" / "sp-api-models"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: fake credentials and a fixed region for boto3 and moto."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("TEST_AWS_REGION", "eu-west-2"))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OpayoFbaTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "opayo-fba-test")


@pytest.fixture(autouse=True)
def _no_metrics_left_over() -> Iterator[None]:
    """Powertools keeps unflushed metrics process-wide: a test that records one without a
    handler's flush (a route called directly, say) must not hand it to the next test's."""
    yield
    observability = sys.modules.get("opayo_fba.observability")
    if observability is not None:
        observability.metrics.clear_metrics()


@pytest.fixture(scope="session")
def sp_api_models() -> Path:
    if not SP_API_MODELS.is_dir():
        pytest.fail(f"official SP-API models not found at {SP_API_MODELS}")
    return SP_API_MODELS


@pytest.fixture(scope="session")
def shared_sp_api_models() -> Path:
    if not SHARED_SP_API_MODELS.is_dir():
        pytest.skip(f"no shared folder beside this checkout ({SHARED_SP_API_MODELS})")
    return SHARED_SP_API_MODELS
