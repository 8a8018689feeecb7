"""Run the template's functions concurrently, one execution environment per invocation in
flight, as Lambda does.

Each execution environment is a worker process (`local_runtime/lambda_worker.py`) started
with that function's own environment variables and reaching AWS through the runtime's moto
server (`AWS_ENDPOINT_URL`), so module state, settings read at cold start and `os.environ`
belong to one function and one environment, with no lock between functions. A function
invoked while all of its environments are busy gets a new one (a cold start); a finished
invocation returns its environment to the function's pool, where the next invocation finds
it warm (`prewarm` starts one environment per function up front, so that the imports of a
cold start are paid once, at start-up, not by the first order).

One difference from Lambda, because a laptop is not a fleet: at most `max_cold_starts`
environments (default: the number of cores) are in their init phase at once. Lambda's cold
starts run on hardware of their own; here 30 concurrent requests would start 30 interpreters
importing the same modules on two cores, each taking the whole storm's time (tens of
seconds), longer than a card session key lives. So an invocation that finds no warm
environment and no free init slot waits for whichever comes first: an environment of its
function coming back warm, or a slot to start a new one; after `MAX_COLD_START_WAIT_SECONDS`
it starts one regardless, so that sustained load is never turned into a queue that eats the
callers' timeouts. An invocation that outlives
the function's timeout is ended as Lambda ends it: the environment is stopped and the error
is `Sandbox.Timedout`.

What callers see is the same as with `InProcessLambdas`: `invoke` returns an `Invocation`,
every invocation is appended to `invocations` and handed to each of `listeners`.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from local_runtime.lambda_bridge import InProcessLambdas, Invocation, LocalFunction

WORKER = Path(__file__).with_name("lambda_worker.py")
#: Seconds an environment may take to import its handler. Lambda allows 10 s; locally many
#: environments start at once on a few cores, so they get longer (init is not the code's doing).
INIT_ALLOWANCE_SECONDS = 120.0
#: The longest an invocation waits for a warm environment or an init slot before it starts
#: an environment of its own anyway (the bound smooths bursts; it must not become a queue).
MAX_COLD_START_WAIT_SECONDS = 5.0


class WorkerDied(Exception):
    """The environment's process ended or stopped answering."""


class _Environment:
    """One worker process for one function."""

    def __init__(self, function: LocalFunction, environment: Mapping[str, str]) -> None:
        self.function = function
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - our own worker, with our interpreter
            [sys.executable, str(WORKER), str(request_read), str(result_write)],
            env=dict(environment),
            pass_fds=(request_read, result_write),
            stdin=subprocess.DEVNULL,
            # The function's log lines come back through this process (`_forward_output`), as
            # Lambda ships them to CloudWatch: whoever reads this process's output reads them.
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            close_fds=True,
        )
        threading.Thread(target=_forward_output, args=(self.process.stdout,), daemon=True).start()
        os.close(request_read)
        os.close(result_write)
        self._requests: IO[str] = os.fdopen(request_write, "w", encoding="utf-8")
        self._results: IO[str] = os.fdopen(result_read, "r", encoding="utf-8")
        self._ready = False
        self._send(
            {
                "name": function.name,
                "codeDir": str(function.code_dir),
                "handler": function.handler,
                "timeoutSeconds": function.timeout_seconds,
                "memoryMb": function.memory_mb,
                "arn": function.arn,
            }
        )

    def _send(self, message: Any) -> None:
        try:
            self._requests.write(json.dumps(message, default=str) + "\n")
            self._requests.flush()
        except (BrokenPipeError, ValueError) as error:
            raise WorkerDied(f"the environment of {self.function.name} is gone: {error}") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def await_ready(self) -> None:
        """Wait for the init phase (the handler's imports) to end."""
        if not self._ready:
            self._ready = self._reply(INIT_ALLOWANCE_SECONDS, "Init").get("ready") is True

    def invoke(self, event: Any, crash: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        self.await_ready()
        self._send({"event": event, "requestId": str(uuid.uuid4()), "crash": crash or []})
        return self._reply(float(self.function.timeout_seconds), "Task")

    def _reply(self, allowance: float, phase: str) -> dict[str, Any]:
        try:
            ready, _, _ = select.select([self._results], [], [], allowance)
            line = self._results.readline() if ready else None
        except (OSError, ValueError) as error:  # stopped under us: the runtime is stopping
            raise WorkerDied(f"the environment of {self.function.name} stopped: {error}") from None
        if line is None:
            self.stop()
            raise TimeoutError(f"{phase} timed out after {allowance:.2f} seconds")
        if not line:
            code = self.process.wait(timeout=5)
            raise WorkerDied(f"the environment of {self.function.name} exited with {code}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def stop(self) -> None:
        for stream in (self._requests, self._results):
            with contextlib.suppress(OSError):
                stream.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _forward_output(stream: IO[bytes] | None) -> None:
    """Copy a worker's output, line by line, to this process's current `sys.stdout`."""
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        try:
            sys.stdout.write(raw.decode("utf-8", "replace"))
            sys.stdout.flush()
        except (ValueError, OSError):  # stdout closed while the runtime stops
            return


class WorkerLambdas(InProcessLambdas):
    """The functions of one synthesized stack, each invocation in its own environment."""

    def __init__(
        self,
        functions: list[LocalFunction],
        base_environment: Mapping[str, str],
        *,
        max_cold_starts: int | None = None,
    ) -> None:
        super().__init__(functions)
        self._base_environment = dict(base_environment)
        self._idle: dict[str, list[_Environment]] = defaultdict(list)
        self._started: list[_Environment] = []
        self._pool_lock = threading.Lock()
        # Signalled when an environment comes back idle or an init slot frees up.
        self._available = threading.Condition(self._pool_lock)
        self._max_cold_starts = max(1, max_cold_starts or os.cpu_count() or 2)
        self._initialising = 0
        self._record_lock = threading.Lock()
        self._closed = False

    def environment_of(self, function: LocalFunction) -> dict[str, str]:
        return {
            **self._base_environment,
            **function.environment,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def environments(self) -> int:
        """How many execution environments were started (each one cold start)."""
        with self._pool_lock:
            return len(self._started)

    def _checkout(self, function: LocalFunction) -> _Environment:
        """A warm environment of `function`, or a new one once an init slot is free (or once
        it has waited `MAX_COLD_START_WAIT_SECONDS` for either)."""
        deadline = time.monotonic() + MAX_COLD_START_WAIT_SECONDS
        with self._available:
            while True:
                if self._closed:
                    raise RuntimeError("the local runtime is stopping")
                idle = self._idle[function.name]
                while idle:
                    environment = idle.pop()
                    if environment.alive():
                        return environment
                # Never longer than Lambda's own init would take: a queue longer than that
                # would eat the caller's timeout (Step Functions retries, and piles up).
                left = deadline - time.monotonic()
                if self._initialising < self._max_cold_starts or left <= 0:
                    self._initialising += 1
                    break
                self._available.wait(timeout=left)
        try:
            environment = _Environment(function, self.environment_of(function))
            with self._pool_lock:
                self._started.append(environment)
            try:
                environment.await_ready()
            except (TimeoutError, WorkerDied):
                environment.stop()
                raise
        finally:
            with self._available:
                self._initialising -= 1
                self._available.notify_all()
        return environment

    def prewarm(self) -> None:
        """Start one environment per function and wait for their init phases (they run at
        once, each in its own process), so that first invocations find them warm."""
        started = []
        for function in self.functions:
            environment = _Environment(function, self.environment_of(function))
            with self._pool_lock:
                self._started.append(environment)
            started.append(environment)
        for environment in started:
            try:
                environment.await_ready()
            except (TimeoutError, WorkerDied):
                environment.stop()  # the first invocation starts another one
                continue
            self._checkin(environment)

    def _checkin(self, environment: _Environment) -> None:
        with self._available:
            if not self._closed and environment.alive():
                self._idle[environment.function.name].append(environment)
                self._available.notify_all()
                return
        environment.stop()

    def invoke(self, name_or_arn: str, event: Any) -> Invocation:
        function = self.function(name_or_arn)
        started = time.monotonic()
        module = function.handler.rpartition(".")[0]
        # `crash_after` rules are armed in the worker, which stops the invocation right after
        # the matching call was answered (lambda_worker.py); the count is kept here.
        # A rule with `times` is armed in at most `times` invocations at once, counting those
        # in flight: concurrent invocations must not all fire a rule meant to fire once.
        with self._record_lock:
            rules = [
                (i, r)
                for i, r in enumerate(self.crash_rules)
                if r.module == module and (r.times is None or r.fired + r.armed < r.times)
            ]
            for _, rule in rules:
                rule.armed += 1
        armed = [
            {"index": i, "method": r.method, "path": r.path, "errorType": r.error_type}
            for i, r in rules
        ]
        environment: _Environment | None = None
        try:
            environment = self._checkout(function)
            reply = environment.invoke(event, armed)
        except (TimeoutError, WorkerDied) as error:
            if environment is not None:
                environment.stop()
            kind = "Sandbox.Timedout" if isinstance(error, TimeoutError) else "Runtime.ExitError"
            payload: Any = {"errorType": kind, "errorMessage": str(error)}
            result = Invocation(
                function.name, event, payload, kind, str(error), time.monotonic() - started
            )
        else:
            assert environment is not None  # _checkout returned one
            self._checkin(environment)
            crashed = reply.get("crashed")
            if isinstance(crashed, int) and crashed < len(self.crash_rules):
                with self._record_lock:
                    self.crash_rules[crashed].fired += 1
            payload = reply.get("payload")
            failed = bool(reply.get("error"))
            result = Invocation(
                function.name,
                event,
                payload,
                payload.get("errorType") if failed else None,
                payload.get("errorMessage") if failed else None,
                time.monotonic() - started,
            )
        with self._record_lock:
            for _, rule in rules:
                rule.armed -= 1
            self.invocations.append(result)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(result)
        return result

    def close(self) -> None:
        """Stop every execution environment (the runtime is stopping)."""
        with self._available:
            self._closed = True
            started, self._started = self._started, []
            self._idle.clear()
            self._available.notify_all()
        for environment in started:
            environment.stop()
