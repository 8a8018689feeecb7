"""Run the template's Lambda functions in this process, as moto's Lambda backend.

moto's Step Functions interpreter invokes Lambda through boto3, which moto routes to its
Lambda backend; with `{"lambda": {"use_docker": False}}` that backend is `LambdaSimpleBackend`,
whose `invoke` only echoes. `install` replaces that one method so an invocation runs our real
handler, with the function's own environment from the template and a Lambda context, and
reports an unhandled exception the way Lambda does (`X-Amz-Function-Error: Unhandled` and an
`errorType`/`errorMessage` payload) so the state machine's Retry and Catch see real error names.

`crash_after` stops a function right after one of its outbound calls got its answer, before
it can write anything down: the provider did it, our records do not know. The invocation then
reports what Step Functions would see (by default `Sandbox.Timedout`, a function stopped at
its timeout), which is how the tests make each money step perform its side effect and then
time out, without waiting for real timeouts.

Here one invocation runs at a time: the process has one `os.environ`, and each function's
settings are read from it at cold start, as in Lambda. The local runtime uses
`local_runtime.lambda_pool.WorkerLambdas` instead, which runs invocations concurrently, each in
an execution environment (process) of its own; this in-process variant stays for tests that run
moto in-process only.

Each function also gets its own copy of the layer's modules (`opayo_fba`), swapped into
`sys.modules` around its invocations: in Lambda every function has its own execution
environment, so module-level state (settings read at cold start, cached clients) must not
leak from one function to another here either.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from moto.awslambda_simple.models import LambdaSimpleBackend

from local_runtime.lambda_worker import LocalLambdaContext, load_handler

#: The moto method `install` replaces; a moto upgrade that renames it must fail loudly.
PATCHED_METHOD = "invoke"
#: Packages whose module state each function keeps to itself (its "execution environment").
ISOLATED_PACKAGES = ("opayo_fba",)


def _is_isolated(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in ISOLATED_PACKAGES)


@dataclass(frozen=True)
class LocalFunction:
    """A function of the template: where its code is and how it is configured."""

    name: str
    code_dir: Path
    handler: str  # "module.attribute", relative to code_dir, as in the template
    environment: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 30
    memory_mb: int = 256
    arn: str = ""


@dataclass
class CrashRule:
    """Stop `module`'s invocation right after a call `method path` (regex) was answered."""

    module: str
    method: str
    path: str
    times: int | None = 1  # None: every time
    error_type: str = "Sandbox.Timedout"
    fired: int = 0
    armed: int = 0  # invocations in flight that may still fire it (worker mode)

    def matches(self, module: str, request: httpx.Request, response: httpx.Response) -> bool:
        if module != self.module or request.method != self.method or response.status_code >= 500:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        return re.search(self.path, request.url.path) is not None


class FunctionStopped(BaseException):
    """Raised inside a crashed invocation; a BaseException so no `except Exception` holds it."""

    def __init__(self, rule: CrashRule, request: httpx.Request) -> None:
        super().__init__(f"{rule.error_type} after {request.method} {request.url.path}")
        self.rule = rule


_current = threading.local()
_original_send = httpx.Client.send


def _send_then_maybe_stop(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> Any:
    response = _original_send(self, request, **kwargs)
    lambdas: InProcessLambdas | None = getattr(_current, "lambdas", None)
    module: str | None = getattr(_current, "module", None)
    if lambdas is not None and module is not None:
        for rule in lambdas.crash_rules:
            if rule.matches(module, request, response):
                rule.fired += 1
                response.read()
                raise FunctionStopped(rule, request)
    return response


@dataclass(frozen=True)
class Invocation:
    function: str
    event: Any
    payload: Any
    error_type: str | None
    error_message: str | None
    duration_seconds: float


class InProcessLambdas:
    """The functions of one synthesized stack, invocable by name or ARN."""

    def __init__(self, functions: list[LocalFunction]) -> None:
        self._functions: dict[str, LocalFunction] = {}
        for function in functions:
            self._functions[function.name] = function
            if function.arn:
                self._functions[function.arn] = function
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._modules: dict[str, dict[str, ModuleType]] = {}
        self._lock = threading.RLock()
        self.invocations: list[Invocation] = []
        self.listeners: list[Callable[[Invocation], None]] = []
        self.crash_rules: list[CrashRule] = []

    def crash_after(
        self,
        module: str,
        method: str,
        path: str,
        *,
        times: int | None = 1,
        error_type: str = "Sandbox.Timedout",
    ) -> CrashRule:
        """Stop the function `module` right after its `method path` call is answered."""
        rule = CrashRule(module, method, path, times, error_type)
        if httpx.Client.send is not _send_then_maybe_stop:
            httpx.Client.send = _send_then_maybe_stop  # type: ignore[method-assign]
        self.crash_rules.append(rule)
        return rule

    def clear_crashes(self) -> None:
        self.crash_rules.clear()
        httpx.Client.send = _original_send  # type: ignore[method-assign]

    @property
    def functions(self) -> list[LocalFunction]:
        return list({f.name: f for f in self._functions.values()}.values())

    def function(self, name_or_arn: str) -> LocalFunction:
        # Step Functions may pass "name", "arn" or "arn:...:function:name:qualifier".
        key = name_or_arn
        if key not in self._functions and key.startswith("arn:") and key.count(":") > 6:
            key = key.rsplit(":", 1)[0]
        if key not in self._functions and key.startswith("arn:"):
            key = key.rsplit(":", 1)[-1]
        try:
            return self._functions[key]
        except KeyError:
            known = ", ".join(sorted(f.name for f in self.functions))
            raise KeyError(
                f"no function {name_or_arn!r} in the template (known: {known})"
            ) from None

    @contextmanager
    def _own_modules(self, function: LocalFunction) -> Iterator[None]:
        shared = {name: m for name, m in sys.modules.items() if _is_isolated(name)}
        for name in shared:
            del sys.modules[name]
        sys.modules.update(self._modules.get(function.name, {}))
        try:
            yield
        finally:
            own = {name: m for name, m in sys.modules.items() if _is_isolated(name)}
            self._modules[function.name] = own
            for name in own:
                del sys.modules[name]
            sys.modules.update(shared)

    @contextmanager
    def _environment(self, function: LocalFunction) -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.update(function.environment)
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = function.name
        os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(function.memory_mb)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def _load(self, function: LocalFunction) -> Callable[[Any, Any], Any]:
        """Import the handler once per function (its cold start), under a private name."""
        if function.name in self._handlers:
            return self._handlers[function.name]
        module_name = f"_local_lambda_{function.name.replace('-', '_')}"
        try:
            handler = load_handler(function.code_dir, function.handler, module_name)
        except FileNotFoundError as error:
            raise FileNotFoundError(f"{function.name}: {error}") from None
        self._handlers[function.name] = handler
        return handler

    def close(self) -> None:
        """Nothing to stop: every function runs in this process."""

    def invoke(self, name_or_arn: str, event: Any) -> Invocation:
        function = self.function(name_or_arn)
        with self._lock, self._environment(function), self._own_modules(function):
            started = time.monotonic()
            context = LocalLambdaContext(
                function_name=function.name,
                memory_limit_in_mb=function.memory_mb,
                invoked_function_arn=function.arn or function.name,
                aws_request_id=str(uuid.uuid4()),
                deadline=started + function.timeout_seconds,
                log_group_name=f"/aws/lambda/{function.name}",
            )
            _current.lambdas, _current.module = self, function.handler.rpartition(".")[0]
            try:
                handler = self._load(function)
                payload = handler(event, context)
                result = Invocation(
                    function.name, event, payload, None, None, time.monotonic() - started
                )
            except FunctionStopped as stopped:
                message = f"Task timed out after {function.timeout_seconds:.2f} seconds"
                result = Invocation(
                    function.name,
                    event,
                    {"errorType": stopped.rule.error_type, "errorMessage": message},
                    stopped.rule.error_type,
                    message,
                    time.monotonic() - started,
                )
            except Exception as error:
                result = Invocation(
                    function.name,
                    event,
                    {
                        "errorType": type(error).__name__,
                        "errorMessage": str(error),
                        "stackTrace": traceback.format_exception(error)[-5:],
                    },
                    type(error).__name__,
                    str(error),
                    time.monotonic() - started,
                )
            finally:
                _current.lambdas, _current.module = None, None
        self.invocations.append(result)
        for listener in self.listeners:
            listener(result)
        return result


_installed: InProcessLambdas | None = None
_original = getattr(LambdaSimpleBackend, PATCHED_METHOD)


def _bridged_invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: dict[str, str],
) -> bytes:
    if _installed is None:
        result: bytes = _original(self, function_name, qualifier, body, headers, response_headers)
        return result
    text = body.decode() if isinstance(body, bytes) else body
    event = json.loads(text) if text else {}
    invocation = _installed.invoke(function_name, event)
    if invocation.error_type is not None:
        response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps(invocation.payload, default=str).encode()


def install(lambdas: InProcessLambdas) -> None:
    """Route moto's Lambda invocations to `lambdas` until `uninstall`."""
    global _installed
    if not callable(getattr(LambdaSimpleBackend, PATCHED_METHOD, None)):
        raise RuntimeError(
            "moto's LambdaSimpleBackend has no invoke method: the pinned moto version changed"
        )
    _installed = lambdas
    setattr(LambdaSimpleBackend, PATCHED_METHOD, _bridged_invoke)


def uninstall() -> None:
    global _installed
    _installed = None
    setattr(LambdaSimpleBackend, PATCHED_METHOD, _original)
