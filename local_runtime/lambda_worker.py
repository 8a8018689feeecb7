"""One Lambda execution environment: a process that runs one function's handler.

Started by `local_runtime.lambda_pool` as `python lambda_worker.py REQUEST_FD RESULT_FD` with
the function's own environment (its template variables, the AWS endpoint of the runtime's
moto server, AWS_LAMBDA_FUNCTION_NAME ...). It reads one JSON line describing the function,
then one JSON line per invocation, and answers each with one JSON line on RESULT_FD (stdout
and stderr stay the function's log, as in Lambda). The handler is imported when the process
starts (the init phase of a cold start; a `{"ready": true}` line says it is done) and reused
for every invocation, as Lambda reuses a warm environment; an unhandled exception is
reported as Lambda reports it (`errorType`, `errorMessage`, `stackTrace`) and the environment
stays up.

This file imports nothing from the project, so that starting it costs only the handler's own
imports; `LocalLambdaContext` lives here for the same reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LocalLambdaContext:
    """The context object Lambda passes to a handler (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def load_handler(code_dir: Path, handler: str, module_name: str) -> Callable[[Any, Any], Any]:
    """Import `module.attribute` from `code_dir` under a private module name."""
    module_path, _, attribute = handler.rpartition(".")
    source = code_dir / Path(*module_path.split("."))
    file = source.with_suffix(".py")
    if not file.is_file():
        file = source / "__init__.py"
    if not file.is_file():
        raise FileNotFoundError(f"handler {handler}: no module at {source}.py")
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    loaded: Callable[[Any, Any], Any] = getattr(module, attribute)
    return loaded


def error_payload(error: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error)[-5:],
    }


class FunctionStopped(BaseException):
    """The invocation is stopped after a call was answered (a `crash_after` rule); a
    BaseException, so no `except Exception` in the handler holds it."""

    def __init__(self, rule: dict[str, Any], method: str, path: str) -> None:
        super().__init__(f"{rule['errorType']} after {method} {path}")
        self.rule = rule


_armed: list[dict[str, Any]] = []


def _stop_after_armed_calls() -> None:
    """Wrap httpx so a call an armed rule names is answered, then the invocation stops."""
    import re

    import httpx

    original = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> Any:
        response = original(self, request, **kwargs)
        for rule in list(_armed):
            if (
                request.method == rule["method"]
                and response.status_code < 500
                and re.search(rule["path"], request.url.path)
            ):
                _armed.clear()
                response.read()
                raise FunctionStopped(rule, request.method, request.url.path)
        return response

    httpx.Client.send = send  # type: ignore[method-assign]


def serve(request_fd: int, result_fd: int) -> None:
    # Ctrl-C in `opayo-fba local up` reaches the whole process group: the runtime stops its
    # execution environments itself (closing their pipes), so a worker ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    results = os.fdopen(result_fd, "w", encoding="utf-8")
    function = json.loads(requests.readline())
    code_dir = Path(function["codeDir"])
    # Lambda puts the function's code first on sys.path (/var/task).
    sys.path.insert(0, str(code_dir))
    # The init phase: import the handler now, as Lambda does when it creates an environment,
    # then say so; an import that fails is reported by every invocation, as in Lambda.
    handler: Callable[[Any, Any], Any] | None = None
    init_error: BaseException | None = None
    try:
        module_name = f"_local_lambda_{function['name'].replace('-', '_')}"
        handler = load_handler(code_dir, function["handler"], module_name)
    except Exception as error:
        init_error = error
    results.write(json.dumps({"ready": True}) + "\n")
    results.flush()
    _armed_installed = False
    for line in requests:
        request = json.loads(line)
        started = time.monotonic()
        context = LocalLambdaContext(
            function_name=function["name"],
            memory_limit_in_mb=int(function["memoryMb"]),
            invoked_function_arn=function["arn"] or function["name"],
            aws_request_id=request["requestId"],
            deadline=started + float(function["timeoutSeconds"]),
            log_group_name=f"/aws/lambda/{function['name']}",
        )
        reply: dict[str, Any]
        armed = request.get("crash") or []
        if armed and not _armed_installed:
            _stop_after_armed_calls()
            _armed_installed = True
        _armed[:] = armed
        try:
            if handler is None:
                raise init_error or RuntimeError("the handler did not load")
            reply = {"payload": handler(request["event"], context)}
        except FunctionStopped as stop:
            reply = {
                "payload": {"errorType": stop.rule["errorType"], "errorMessage": str(stop)},
                "error": True,
                "crashed": stop.rule["index"],
            }
        except Exception as error:
            reply = {"payload": error_payload(error), "error": True}
        _armed.clear()
        reply["durationSeconds"] = time.monotonic() - started
        results.write(json.dumps(reply, default=str) + "\n")
        results.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
