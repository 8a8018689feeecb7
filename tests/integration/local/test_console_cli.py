"""`opayo-fba console`: it listens on 127.0.0.1 only, prints a URL with its token, serves the
stack at --endpoint-url (a moto server), and stops on Ctrl-C without a traceback; bad input
exits 2 with what to do."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from opayo_fba.console.app import create_app
from opayo_fba.console.backend import StackBackend
from opayo_fba.console.server import LOOPBACK, ConsoleServer
from tests.fixtures.tables import ORDERS_TABLE_SHAPE, REGION

PROJECT_ROOT = Path(__file__).resolve().parents[3]
STACK = "OpayoFba-dev"
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]+)")


def _outward_address() -> str | None:
    """An address of this machine other than loopback, if it has one (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, nothing is sent
        address: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_the_console_listens_on_loopback_only() -> None:
    server = ConsoleServer(create_app(_NoBackend(), "x" * 32))
    server.start()
    try:
        assert server.socket.getsockname()[0] == LOOPBACK
        with socket.create_connection((LOOPBACK, server.port), timeout=5):
            pass
        outward = _outward_address()
        if outward is not None:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((outward, server.port), timeout=5).close()
    finally:
        server.stop()


class _NoBackend:
    stack_name = "none"


@pytest.fixture
def moto_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends live in this process, not in the server: start from nothing.
    httpx.post(f"{url}/moto-api/reset").raise_for_status()
    dynamodb = boto3.resource("dynamodb", REGION, endpoint_url=url)
    dynamodb.create_table(TableName=f"{STACK}-StorageOrdersTableA1B2", **ORDERS_TABLE_SHAPE)
    dynamodb.create_table(
        TableName=f"{STACK}-StorageConnectorStateTableC3D4",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield url
    httpx.post(f"{url}/moto-api/reset").raise_for_status()
    server.stop()


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen(  # noqa: S603 (our own CLI, our arguments)
        [sys.executable, "-m", "opayo_fba.cli.main", "console", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell that started us in the background may ignore SIGINT; Ctrl-C must reach it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_the_cli_prints_its_url_serves_the_stack_and_stops_on_ctrl_c(moto_stack: str) -> None:
    process = _cli("--endpoint-url", moto_stack, "--region", REGION)
    try:
        assert process.stdout is not None
        found = None
        deadline = time.monotonic() + 60
        while found is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            found = URL.search(line)
        assert found is not None, process.stderr.read() if process.stderr else ""
        with httpx.Client(follow_redirects=True) as client:
            assert client.get(found.group(0).replace(found.group(2), "nope")).status_code == 403
            page = client.get(found.group(0))
            assert page.status_code == 200
            assert STACK in page.text
            assert page.url.path == "/orders"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "Console stopped." in out


def test_a_stack_that_is_not_there_is_exit_2_with_the_fix(moto_stack: str) -> None:
    process = _cli("--endpoint-url", moto_stack, "--region", REGION, "--stage", "twoaccounts")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "no tables of stack OpayoFba-twoaccounts" in err
    assert "opayo-fba local up" in err


def test_a_taken_port_is_exit_2(moto_stack: str) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _cli("--endpoint-url", moto_stack, "--region", REGION, "--port", str(port))
        _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "try another --port" in err


def test_the_backend_reads_the_stack_the_cli_found(moto_stack: str) -> None:
    from opayo_fba.cli.console import connect

    backend = connect(STACK, {"uk-main": ["A1F83G8C2ARO7P"]}, moto_stack, REGION)
    assert isinstance(backend, StackBackend)
    assert backend.seller_accounts() == {"uk-main": ["A1F83G8C2ARO7P"]}
    assert backend.order("W-1") is None
