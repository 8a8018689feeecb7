"""`opayo-fba dlq` against the local runtime's moto server, from the outside."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from local_runtime.runtime import LocalRuntime, RuntimeOptions
from opayo_fba.cli.main import app

STACK = Path(__file__).parent / "stack"


def test_poison_message_lands_in_dlq_and_is_processed_once_after_redrive() -> None:
    options = RuntimeOptions(
        template=STACK / "Mini.template.json",
        time_factor=100,
        secret_values={"Secret": {"vendor": "sandbox"}},
        moto_port=0,
    )
    runner = CliRunner()
    with LocalRuntime(options) as runtime:
        endpoint = ["--endpoint-url", runtime.moto_url, "--region", "eu-west-2"]
        httpx.post(f"{runtime.api_url}/webhooks/opayo/sandbox", content="poison")
        deadline = time.monotonic() + 20
        while not re.search(
            r"Mini-Dlq\.fifo\s+│\s+1\s", runner.invoke(app, ["dlq", "list", *endpoint]).output
        ):
            assert time.monotonic() < deadline, "poison message never reached the DLQ"
            time.sleep(0.05)

        shown = runner.invoke(app, ["dlq", "show", "Mini-Dlq.fifo", *endpoint])
        assert shown.exit_code == 0
        assert "poison" in shown.output

        consumed_before = sum(
            1 for i in runtime.lambdas.invocations if i.function == "Mini-ConsumerFn"
        )
        redriven = runner.invoke(app, ["dlq", "redrive", "Mini-Dlq.fifo", *endpoint])
        assert redriven.exit_code == 0, redriven.output
        assert "Moved 1 message from" in redriven.output
        deadline = time.monotonic() + 20
        while not any(
            i.function == "Mini-ConsumerFn" for i in runtime.lambdas.invocations[consumed_before:]
        ):
            assert time.monotonic() < deadline, "redriven message was not consumed"
            time.sleep(0.05)

        missing = runner.invoke(app, ["dlq", "show", "Mini-Queue.fifo", *endpoint])
        assert missing.exit_code == 2
        assert "is not a dead-letter queue" in missing.output
