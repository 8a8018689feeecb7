"""`python -m sandbox.amazon`, SQLite persistence, the options model and the contract check."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sp_api.api import FulfillmentOutbound

from sandbox.amazon import AmazonSandboxOptions, SkuStock, create_app
from sandbox.amazon.app import RecordedResponse
from sandbox.amazon.fulfillment import COMPLETE_AFTER
from sandbox.common.server import ThreadedServer
from tests.fixtures.amazon_sandbox import (
    AMAZON_SANDBOX_START,
    AmazonSandboxHandle,
    clear_sp_api_token_cache,
    contract_violations,
    mcf_order_body,
)

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_module_entry_point_prints_url_and_credentials_and_serves() -> None:
    port = _free_port()
    env = {**os.environ, "AMAZON_SANDBOX_SELLER_ID": "A2ENVSELLER"}
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "sandbox.amazon", "--port", str(port), "--clock-factor", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(8)]
        banner = "".join(lines)
        assert f"listening on http://127.0.0.1:{port}" in banner
        for value in (
            "sandbox-client-id",
            "sandbox-client-secret",
            "Atzr|sandbox-refresh-token",
            "A2ENVSELLER",
            "A1F83G8C2ARO7P",
        ):
            assert value in banner
        deadline = time.monotonic() + 15
        while True:
            try:
                token = httpx.post(
                    f"http://127.0.0.1:{port}/auth/o2/token",
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": "Atzr|sandbox-refresh-token",
                        "client_id": "sandbox-client-id",
                        "client_secret": "sandbox-client-secret",
                    },
                )
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert token.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_bad_flag_value_is_a_clear_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.amazon", "--clock-factor", "-1"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "clock_factor" in result.stderr


def test_state_persists_in_sqlite_across_restarts(tmp_path: Path) -> None:
    options = AmazonSandboxOptions(
        clock_factor=0, clock_start=AMAZON_SANDBOX_START, sqlite_path=str(tmp_path / "amz.db")
    )
    for run in range(2):
        clear_sp_api_token_cache()
        app = create_app(options)
        with ThreadedServer(app) as server:
            handle = AmazonSandboxHandle(
                server.url, app.state.sandbox, httpx.Client(base_url=server.url)
            )
            fba = handle.sp_api_client(FulfillmentOutbound)
            if run == 0:
                fba.create_fulfillment_order(**mcf_order_body("KEEP-1"))
            else:
                order = fba.get_fulfillment_order("KEEP-1").payload["fulfillmentOrder"]
                assert order["fulfillmentOrderStatus"] == "Received"
                handle.advance(COMPLETE_AFTER)  # the reloaded order still moves on
                order = fba.get_fulfillment_order("KEEP-1").payload["fulfillmentOrder"]
                assert order["fulfillmentOrderStatus"] == "Complete"
            handle.control.close()
        app.state.sandbox.close()
        assert contract_violations(app.state.sandbox) == []


def test_options_validate_and_custom_stock_is_used(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        AmazonSandboxOptions(clock_start=AMAZON_SANDBOX_START.replace(tzinfo=None))
    with pytest.raises(ValidationError, match="notification types"):
        AmazonSandboxOptions.model_validate(
            {"notification_targets": [{"kind": "http", "url": "x", "notification_types": ["X"]}]}
        )
    app = create_app(
        AmazonSandboxOptions(
            clock_factor=0,
            skus=[SkuStock(sku="ONLY-ONE", quantity=1, asin="B0X", title="t", unit_price_minor=1)],
            seed_amazon_orders=False,
            background_ticks=False,
        )
    )
    try:
        assert [r["sku"] for r in app.state.sandbox.store.all("inventory")] == ["ONLY-ONE"]
        assert app.state.sandbox.store.all("order") == []
    finally:
        app.state.sandbox.close()


def test_contract_check_catches_a_response_that_breaks_the_model(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    sandbox = amazon_sandbox.sandbox
    sandbox.recorded.append(
        RecordedResponse("getFulfillmentOrder", 200, {"payload": {"fulfillmentOrder": {}}})
    )
    problems = contract_violations(sandbox)
    assert len(problems) == 1
    assert "getFulfillmentOrder" in problems[0]
    sandbox.recorded.pop()  # leave the fixture's own teardown check green


def test_flags_build_options_with_faults_targets_and_credentials() -> None:
    from sandbox.amazon.__main__ import build_options, parse_args

    options = build_options(
        parse_args(
            [
                "--client-id",
                "my-client",
                "--faults",
                '{"seed": 3, "rules": [{"operation": "getOrders", "kind": "throttle"}]}',
                "--sqs-queue-url",
                "http://127.0.0.1:5000/123456789012/q",
                "--sqs-endpoint-url",
                "http://127.0.0.1:5000",
                "--notify-url",
                "http://127.0.0.1:9/hook",
                "--no-rate-limits",
            ]
        )
    )
    assert options.credentials.client_id == "my-client"
    assert options.credentials.client_secret == "sandbox-client-secret"
    assert options.faults.seed == 3
    assert options.faults.rules[0].operation == "getOrders"
    assert [(t.kind, t.endpoint_url) for t in options.notification_targets] == [
        ("sqs", "http://127.0.0.1:5000"),
        ("http", None),
    ]
    assert options.rate_limits_enabled is False
