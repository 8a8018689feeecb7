"""Tracing as deployed: X-Ray is loaded when a function first traces, each library it instruments
is patched when it is first imported, not at cold start, and a handler's boto3 and HTTP calls
still become subsegments of its trace, each sent as it closes.

Each check runs in a fresh interpreter with the variables Lambda sets (tracing on), as a new
execution environment would: what is imported, and what patched, depends on the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from aws_xray_sdk.core.patcher import NO_DOUBLE_PATCH

from opayo_fba.tracing import PATCHED_ON_IMPORT
from tests.conftest import PROJECT_ROOT

# Lambda's own variables (tracing is on in Lambda unless turned off) and a sampled trace.
LAMBDA = {
    "LAMBDA_TASK_ROOT": str(PROJECT_ROOT / "functions"),
    "AWS_LAMBDA_FUNCTION_NAME": "tracing-test",
    "_X_AMZN_TRACE_ID": (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    ),
    "AWS_REGION": "eu-west-2",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_SERVICE_NAME": "tracing-test",
    "POWERTOOLS_METRICS_NAMESPACE": "OpayoFbaTest",
}
INSTRUMENTED = ("botocore.client", "httpx", "requests", "sqlite3")
# Loaded by the first trace, not at cold start (wrapt imports asyncio).
XRAY = ("aws_xray_sdk.core", "wrapt", "asyncio")


def run(code: str, *, tracing: bool = True) -> dict[str, object]:
    """Run `code` in a fresh interpreter; it prints one JSON object, returned here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(LAMBDA)
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    done = subprocess.run(  # noqa: S603 - our own interpreter running the test's code
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_libraries_patched_on_import_are_those_patch_all_patches() -> None:
    assert set(PATCHED_ON_IMPORT) == set(NO_DOUBLE_PATCH)


def test_importing_observability_imports_neither_xray_nor_a_library_only_to_patch_it() -> None:
    result = run(
        f"""
        import json, sys
        from opayo_fba.observability import tracer
        print(json.dumps({{
            "imported": [m for m in {INSTRUMENTED + XRAY!r} if m in sys.modules],
            "tracing": not tracer.disabled,
        }}))
        """
    )
    assert result == {"imported": [], "tracing": True}


def test_boto3_and_http_calls_become_subsegments_of_the_handlers_trace() -> None:
    result = run(
        """
        import json
        from opayo_fba.observability import tracer

        import boto3, httpx, requests, sqlite3
        from aws_xray_sdk.core import xray_recorder
        from aws_xray_sdk.core.patcher import _PATCHED_MODULES
        from botocore.stub import Stubber

        sent = []

        class Emitter:
            def send_entity(self, entity):
                sent.append(entity.to_dict())

            def set_daemon_address(self, address):
                pass

        xray_recorder.configure(emitter=Emitter())
        client = boto3.client("dynamodb")
        http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(204)))

        @tracer.capture_lambda_handler(capture_response=False)
        def handler(event, context):
            with Stubber(client) as stub:
                stub.add_response("describe_limits", {"AccountMaxReadCapacityUnits": 1})
                client.describe_limits()
            http.get("https://shop.example/orders")

        class Context:
            function_name = "tracing-test"
            aws_request_id = "request-1"

        handler({}, Context())
        print(json.dumps({
            "streaming_threshold": xray_recorder.streaming_threshold,
            "patched": sorted(_PATCHED_MODULES),
            "subsegments": [
                (
                    e["name"],
                    e.get("namespace"),
                    e.get("aws", {}).get("operation"),
                    e.get("http", {}).get("response", {}).get("status"),
                )
                for e in sent
            ],
        }))
        """
    )
    assert result["streaming_threshold"] == 0  # as Powertools configures X-Ray (its #283)
    assert result["patched"] == ["botocore", "httpx", "requests", "sqlite3"]
    assert result["subsegments"] == [
        ["dynamodb", "aws", "DescribeLimits", None],
        ["shop.example", "remote", None, 204],
        ["## handler", "local", None, None],
    ]


def test_a_library_imported_before_observability_is_patched_too() -> None:
    result = run(
        """
        import json
        import httpx
        import opayo_fba.observability
        print(json.dumps({"client": httpx.Client.__module__}))
        """
    )
    assert result == {"client": "aws_xray_sdk.ext.httpx.patch"}


def test_nothing_is_patched_when_tracing_is_off() -> None:
    result = run(
        """
        import json
        import opayo_fba.observability
        import boto3, httpx
        from aws_xray_sdk.core.patcher import _PATCHED_MODULES
        print(json.dumps({"patched": sorted(_PATCHED_MODULES), "client": httpx.Client.__module__}))
        """,
        tracing=False,
    )
    assert result == {"patched": [], "client": "httpx"}


def test_the_first_trace_loads_xray_and_reaches_the_daemon() -> None:
    """As deployed: X-Ray's own UDP emitter sends the handler's subsegment to the daemon."""
    result = run(
        """
        import json, os, socket, sys

        daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(30)
        os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:%d" % daemon.getsockname()[1]

        from opayo_fba.observability import tracer

        loaded_at_import = "aws_xray_sdk.core" in sys.modules

        @tracer.capture_lambda_handler(capture_response=False)
        def handler(event, context):
            return {"ok": True}

        class Context:
            function_name = "tracing-test"
            aws_request_id = "request-1"

        reply = handler({}, Context())
        header, body = daemon.recv(65535).decode().split("\\n", 1)
        entity = json.loads(body)
        print(json.dumps({
            "loaded_at_import": loaded_at_import,
            "reply": reply,
            "header": json.loads(header),
            "name": entity["name"],
            "trace_id": entity["trace_id"],
            "cold_start": entity["annotations"]["ColdStart"],
        }))
        """
    )
    assert result == {
        "loaded_at_import": False,
        "reply": {"ok": True},
        "header": {"format": "json", "version": 1},
        "name": "## handler",
        "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "cold_start": True,
    }
