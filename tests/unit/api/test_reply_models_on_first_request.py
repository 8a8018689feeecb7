"""The HTTP functions import their reply models (api/views.py) on the first request, not at
cold start: routes name them, and resolve_models() puts the classes in place."""

from __future__ import annotations

import os
import subprocess
import sys

from opayo_fba.api import documented, views
from tests.conftest import PROJECT_ROOT


def _imported_at_cold_start(handler: str, environment: dict[str, str]) -> set[str]:
    probe = (
        f"import sys, functions.{handler}; "
        "print(' '.join(m for m in ('opayo_fba.api.views', 'opayo_fba.store.orders') "
        "if m in sys.modules))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter running the test's code
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{PROJECT_ROOT / 'layers/core/python'}",
            **environment,
        },
    )
    return set(done.stdout.split())


def test_an_http_function_imports_no_reply_model_at_cold_start() -> None:
    assert _imported_at_cold_start("order_status", {"ORDERS_TABLE_NAME": "orders"}) == set()


def test_named_models_are_the_views_classes_once_resolved() -> None:
    content = documented.json_content("ErrorBody | GatewayErrorBody")
    single = documented.json_content("OrderView")
    assert content["application/json"]["model"] == "ErrorBody | GatewayErrorBody"
    documented.resolve_models()
    assert content["application/json"]["model"] == views.ErrorBody | views.GatewayErrorBody
    assert single["application/json"]["model"] is views.OrderView
    documented.resolve_models()  # nothing left: the classes stay
    assert single["application/json"]["model"] is views.OrderView
