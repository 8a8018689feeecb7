"""Fault injection (by options and by route), SQLite state, and `python -m sandbox.opayo`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.common.faults import FaultConfig, FaultKind, FaultRule
from sandbox.common.server import ThreadedServer
from sandbox.opayo import OpayoSandboxOptions, create_app
from sandbox.opayo.app import close_app
from sandbox.opayo.options import NotificationFaults
from tests.fixtures.opayo_sandbox import MerchantEndpoint, OpayoSandboxHandle, wait_until

pytestmark = pytest.mark.integration
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _transactions(sandbox: OpayoSandboxHandle) -> list[dict[str, object]]:
    found: list[dict[str, object]] = sandbox.client.get("/_sandbox/transactions").json()[
        "transactions"
    ]
    return found


class TestFaultsFromOptions:
    @pytest.fixture
    def opayo_sandbox_options(
        self, opayo_sandbox_options: OpayoSandboxOptions
    ) -> OpayoSandboxOptions:
        rule = FaultRule(operation="transactions", kind=FaultKind.UNAVAILABLE, times=1)
        return opayo_sandbox_options.model_copy(update={"faults": FaultConfig(rules=[rule])})

    def test_first_call_is_unavailable_then_served(self, opayo_sandbox: OpayoSandboxHandle) -> None:
        body = opayo_sandbox.transaction_body()
        first = opayo_sandbox.create_transaction(body)
        assert first.status_code == 503
        assert "description" in first.json()
        assert _transactions(opayo_sandbox) == []
        assert opayo_sandbox.create_transaction(body).status_code == 201


def test_throttle_and_server_error_change_nothing(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 3000, vendor_tx_code="f-1")
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "instructions", "kind": "throttle", "times": 1}]}
    )
    assert opayo_sandbox.instruct(deferred["transactionId"], "release").status_code == 429
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "instructions", "kind": "server_error", "times": 1}]}
    )
    assert opayo_sandbox.instruct(deferred["transactionId"], "release").status_code == 500
    assert opayo_sandbox.sandbox_transaction("f-1")["released"] is False
    assert opayo_sandbox.instruct(deferred["transactionId"], "release").status_code == 201


def test_dropped_connection_creates_nothing(opayo_sandbox: OpayoSandboxHandle) -> None:
    body = opayo_sandbox.transaction_body(vendor_tx_code="f-drop")
    opayo_sandbox.set_faults({"rules": [{"operation": "transactions", "kind": "drop", "times": 1}]})
    with pytest.raises(httpx.TransportError):
        opayo_sandbox.create_transaction(body)
    assert _transactions(opayo_sandbox) == []
    assert opayo_sandbox.create_transaction(body).status_code == 201


def test_lost_response_commits_the_release(opayo_sandbox: OpayoSandboxHandle) -> None:
    deferred = opayo_sandbox.pay("Deferred", 3000, vendor_tx_code="f-lost")
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "instructions", "kind": "lost_response", "times": 1}]}
    )
    with pytest.raises(httpx.TimeoutException):
        opayo_sandbox.client.post(
            f"/api/v1/transactions/{deferred['transactionId']}/instructions",
            json={"instructionType": "release"},
            timeout=0.5,
        )
    assert opayo_sandbox.sandbox_transaction("f-lost")["captureCount"] == 1
    # The caller that retries blindly is told it already happened, and nothing doubles.
    again = opayo_sandbox.instruct(deferred["transactionId"], "release")
    assert again.status_code == 403
    assert opayo_sandbox.sandbox_transaction("f-lost")["captureCount"] == 1


def test_delay_still_answers(opayo_sandbox: OpayoSandboxHandle) -> None:
    opayo_sandbox.set_faults(
        {"rules": [{"operation": "get-transaction", "kind": "delay", "delay_seconds": 0.2}]}
    )
    payment = opayo_sandbox.pay()
    response = opayo_sandbox.client.get(f"/api/v1/transactions/{payment['transactionId']}")
    assert response.status_code == 200
    fired = opayo_sandbox.client.get("/_sandbox/faults").json()["fired"]
    assert fired == [{"operation": "get-transaction", "kind": "delay"}]


def test_server_and_reporting_faults_keep_their_shapes(opayo_sandbox: OpayoSandboxHandle) -> None:
    opayo_sandbox.set_faults(
        {
            "rules": [
                {"operation": "server-register", "kind": "unavailable", "times": 1},
                {"operation": "reporting", "kind": "server_error", "times": 1},
            ]
        }
    )
    register = opayo_sandbox.client.post("/gateway/service/vspserver-register.vsp", data={})
    assert register.status_code == 503
    assert "Status=ERROR" in register.text
    reporting = opayo_sandbox.client.post("/access/access.htm", data={"XML": "<vspaccess/>"})
    assert reporting.status_code == 500
    assert "<errorcode>" in reporting.text


def test_state_survives_a_restart_with_sqlite(tmp_path: Path) -> None:
    options = OpayoSandboxOptions(sqlite_path=str(tmp_path / "opayo.sqlite"), clock_factor=0)
    auth = (options.integration_key, options.integration_password)
    app = create_app(options)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, auth=auth) as client:
        handle = OpayoSandboxHandle(url=server.url, app=app, options=options, client=client)
        payment = handle.pay(vendor_tx_code="persisted")
    close_app(app)
    reopened = create_app(options)
    with ThreadedServer(reopened) as server, httpx.Client(base_url=server.url, auth=auth) as client:
        handle = OpayoSandboxHandle(url=server.url, app=reopened, options=options, client=client)
        fetched = client.get(f"/api/v1/transactions/{payment['transactionId']}")
        assert fetched.status_code == 200
        assert fetched.json()["status"] == "Ok"
        duplicate = handle.create_transaction(handle.transaction_body(vendor_tx_code="persisted"))
        assert duplicate.status_code == 422
    close_app(reopened)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_module_prints_url_and_credentials_and_serves() -> None:
    port = _free_port()
    env = {**os.environ, "OPAYO_SANDBOX_INTEGRATION_KEY": "key-from-env"}
    process = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
        [
            *(sys.executable, "-m", "sandbox.opayo", "--port", str(port), "--clock-factor", "0"),
            *("--fault", "merchant-session-keys:throttle:1:1"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(5)]
        assert lines[0].strip() == f"Opayo sandbox on http://127.0.0.1:{port}"
        printed = "".join(lines)
        assert "key-from-env / sandbox-integration-password" in printed
        assert "sandbox-user / sandbox-password" in printed
        assert "vendor:         sandbox" in printed

        def clock() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/_sandbox/clock")
            except httpx.TransportError:
                return None

        assert wait_until(clock, timeout=10).status_code == 200

        def session_key() -> httpx.Response:
            return httpx.post(
                f"http://127.0.0.1:{port}/api/v1/merchant-session-keys",
                json={"vendorName": "sandbox"},
                auth=("key-from-env", "sandbox-integration-password"),
            )

        assert session_key().status_code == 429  # the --fault flag, once
        assert session_key().status_code == 201
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_module_rejects_a_bad_fault_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.opayo", "--fault", "transactions:explode"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "KIND must be one of" in result.stderr


def test_pending_notifications_resume_after_a_restart(
    tmp_path: Path, opayo_merchant: MerchantEndpoint
) -> None:
    path = str(tmp_path / "opayo.sqlite")
    held = OpayoSandboxOptions(
        sqlite_path=path, clock_factor=0, notification_faults=NotificationFaults(hold=True)
    )
    auth = (held.integration_key, held.integration_password)
    app = create_app(held)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, auth=auth) as client:
        form = {
            "VPSProtocol": "4.00",
            "TxType": "PAYMENT",
            "Vendor": "sandbox",
            "VendorTxCode": "resume-1",
            "Amount": "1.00",
            "Currency": "GBP",
            "Description": "x",
            "NotificationURL": opayo_merchant.url,
            **{f"{p}{f}": "x" for p in ("Billing", "Delivery") for f in ("Surname", "Firstnames")},
            **{f"{p}{f}": "x" for p in ("Billing", "Delivery") for f in ("Address1", "City")},
            "BillingCountry": "GB",
            "DeliveryCountry": "GB",
        }
        lines = client.post("/gateway/service/vspserver-register.vsp", data=form).text
        vps_tx_id = dict(line.split("=", 1) for line in lines.split("\r\n") if line)["VPSTxId"]
        done = client.post(f"/_sandbox/server/{vps_tx_id}/complete", json={"card": "4929000000006"})
        assert done.status_code == 200
    close_app(app)
    assert opayo_merchant.snapshot() == []
    reopened = create_app(held.model_copy(update={"notification_faults": NotificationFaults()}))
    try:
        received = wait_until(opayo_merchant.snapshot)
        assert received[0]["VendorTxCode"] == "resume-1"
    finally:
        close_app(reopened)
