"""The local runtime: the synthesized CloudFormation template, run on one machine.

It starts moto in this process (Step Functions executing for real, Lambda without Docker)
and serves it on loopback, creates the template's resources, routes Lambda invocations to our
handlers, each invocation in an execution environment (a worker process) of its own that
reaches moto over HTTP, polls the SQS event source mappings, serves the API routes over HTTP
and fires the schedules. Functions run concurrently, as in Lambda: a function that waits (a
poller sleeping for its rate-limit slot) never holds up the API or the saga.
Nothing is wired by hand: what is not in the template does not run, and what is in the
template but not supported locally is listed in `report()`.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig, default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_runtime import (
    dynamodb_reads,
    dynamodb_writes,
    execution_events,
    lambda_bridge,
    moto_memory,
    sfn_time,
)
from local_runtime.api_gateway import ApiRoute, create_api_app, routes_from_template
from local_runtime.lambda_bridge import InProcessLambdas, Invocation
from local_runtime.lambda_pool import WorkerLambdas
from local_runtime.provision import NOT_NEEDED_LOCALLY, RUN_LOCALLY, Provisioned, Provisioner
from local_runtime.schedules import ScheduleRunner, schedules_from_template
from local_runtime.sqs_poller import EventSourceMapping, SqsPoller
from local_runtime.template import Template
from sandbox.common.server import ThreadedServer

MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def find_template(cdk_out: Path, environment: str | None = None) -> Path:
    """The synthesized template to run: the only one, or the named environment's.

    Without `environment`, the default environment of `cdk.json` (beside `cdk_out`) decides
    when `cdk_out` holds several stacks.
    """
    templates = sorted(cdk_out.glob("*.template.json"))
    if not templates:
        raise FileNotFoundError(
            f"no *.template.json in {cdk_out}: run `make synth` first to synthesize the app"
        )
    if environment is None and len(templates) > 1:
        cdk_json = cdk_out.parent / "cdk.json"
        if cdk_json.is_file():
            context = json.loads(cdk_json.read_text()).get("context", {})
            environment = context.get("opayo-fba:environment")
    if environment is not None:
        named = [t for t in templates if t.name.endswith(f"-{environment}.template.json")]
        if not named:
            raise FileNotFoundError(
                f"no template for environment {environment!r} in {cdk_out}: "
                f"run `make synth STAGE={environment}`"
            )
        return named[0]
    if len(templates) > 1:
        names = ", ".join(t.name for t in templates)
        raise ValueError(f"several templates in {cdk_out} ({names}): name one with --template")
    return templates[0]


def _reset_moto(url: str) -> None:
    import httpx

    httpx.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()


@dataclass
class RuntimeOptions:
    template: Path
    region: str = "eu-west-2"
    time_factor: float = 1.0
    secret_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Environment variables to set on every function (e.g. sandbox endpoints).
    environment_overrides: dict[str, str] = field(default_factory=dict)
    serve_api: bool = True
    run_pollers: bool = True
    run_schedules: bool = True
    api_port: int = 0
    # The port moto serves HTTP on, on loopback (0 = any free one): the functions' execution
    # environments and other processes (`opayo-fba dlq ... --endpoint-url`) reach it there.
    # None with `concurrent=False`: moto in this process only.
    moto_port: int | None = None
    # True: each invocation in a worker process of its own, concurrently (as Lambda). False:
    # one invocation at a time, in this process (`InProcessLambdas`).
    concurrent: bool = True


class LocalRuntime:
    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.template = Template.load(options.template, options.region)
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._moto_server: ThreadedMotoServer | None = None
        self._config_patch = patch.dict(default_user_config, MOTO_CONFIG)
        self.moto_url = ""
        self.provisioned = Provisioned()
        self.lambdas = InProcessLambdas([])
        self.pollers: list[SqsPoller] = []
        self.routes: list[ApiRoute] = []
        self.schedules = ScheduleRunner([], self.lambdas, options.region)
        self.default_bus = execution_events.DefaultBus([], self.lambdas, options.region)
        self.api: ThreadedServer | None = None
        self.api_url = ""
        self.poller_errors: list[tuple[EventSourceMapping, BaseException]] = []
        self._saved_region: str | None = None

    def start(self) -> LocalRuntime:
        # Powertools warns when a handler publishes no metric; locally that is just noise.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._saved_region = os.environ.get("AWS_DEFAULT_REGION")
        os.environ["AWS_DEFAULT_REGION"] = self.options.region
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "local")
        moto_port = self.options.moto_port
        if moto_port is None and self.options.concurrent:
            moto_port = 0  # the execution environments reach moto over HTTP
        moto_memory.stop_tracking_instances()  # moto would keep every object it ever made
        dynamodb_reads.faster_sorts()  # moto's sorts compare in Python, 450 ms a Query at 10k
        if moto_port is None:
            self._mock.start()
        else:
            self._config_patch.start()
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
            dynamodb_writes.serialise()  # many environments write through this one server
            dynamodb_writes.cheap_transaction_backups()  # an order write is a transaction
            self._moto_server = ThreadedMotoServer(
                ip_address="127.0.0.1", port=moto_port, verbose=False
            )
            self._moto_server.start()
            host, port = self._moto_server.get_host_and_port()
            self.moto_url = f"http://{host}:{port}"
            # moto's backends live in the process, not in the server: start from nothing, as
            # the in-process mock does (another runtime may have run here before).
            _reset_moto(self.moto_url)
            os.environ["AWS_ENDPOINT_URL"] = self.moto_url
            # moto's Step Functions interpreter finds its own server through MOTO_PORT.
            os.environ["MOTO_PORT"] = str(port)
        sfn_time.install(self.options.time_factor)
        self.provisioned = Provisioner(self.template).run(self.options.secret_values)
        for function in self.provisioned.functions:
            function.environment.update(self.options.environment_overrides)
        if self.options.concurrent:
            self.lambdas = WorkerLambdas(self.provisioned.functions, dict(os.environ))
            self.lambdas.prewarm()
        else:
            self.lambdas = InProcessLambdas(self.provisioned.functions)
        lambda_bridge.install(self.lambdas)
        sqs = boto3.client("sqs", self.options.region)
        visibility = max(0, int(1 / self.options.time_factor))
        self.pollers = [
            SqsPoller(
                sqs,
                self.lambdas,
                mapping,
                retry_visibility_seconds=visibility,
                on_error=lambda m, e: self.poller_errors.append((m, e)),
            )
            for mapping in self.provisioned.mappings
        ]
        self.schedules = ScheduleRunner(
            schedules_from_template(self.template),
            self.lambdas,
            self.options.region,
            self.options.time_factor,
        )
        # Step Functions' own status-change events, to the template's rules on the default bus.
        self.default_bus = execution_events.DefaultBus(
            execution_events.rule_targets_from_template(self.template),
            self.lambdas,
            self.options.region,
            self.options.time_factor,
        )
        execution_events.install(self.default_bus, self.options.region, self.template.account)
        self.routes = routes_from_template(self.template)
        if self.options.run_pollers:
            for poller in self.pollers:
                poller.start()
        if self.options.run_schedules:
            self.schedules.start()
        if self.options.serve_api and self.routes:
            self.api = ThreadedServer(
                create_api_app(self.routes, self.lambdas), port=self.options.api_port
            )
            self.api_url = self.api.start()
        return self

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        self.schedules.stop()
        for poller in self.pollers:
            poller.stop()
        execution_events.uninstall()
        self.default_bus.stop()
        self.lambdas.close()
        lambda_bridge.uninstall()
        sfn_time.uninstall()
        if self._moto_server is None:
            self._mock.stop()
        else:
            _reset_moto(self.moto_url)
            self._moto_server.stop()
            self._config_patch.stop()
            os.environ.pop("AWS_ENDPOINT_URL", None)
            os.environ.pop("MOTO_PORT", None)
        if self._saved_region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = self._saved_region

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def invoke(self, function: str, event: Any) -> Invocation:
        """Invoke one function by logical id, name or ARN with an event."""
        return self.lambdas.invoke(self.function_name(function), event)

    def function_name(self, function: str) -> str:
        """Accept the logical id, the module name (`opayo_webhook`), the name or the ARN."""
        if function in self.template.resources:
            return self.template.physical_name(function)
        for local in self.lambdas.functions:
            if local.handler.rpartition(".")[0] == function:
                return local.name
        return function

    def report(self) -> list[str]:
        p = self.provisioned
        lines = [f"template: {self.options.template}"]
        lines.append(
            "created in moto: "
            + ", ".join(f"{n} {t.removeprefix('AWS::')}" for t, n in sorted(p.created.items()))
        )
        where = (
            "each invocation in its own worker process"
            if self.options.concurrent
            else "in-process, one at a time"
        )
        lines.append(f"functions run {where}: {len(p.functions)}")
        lines.append(f"SQS event source mappings polled: {len(p.mappings)}")
        lines.append(f"API routes served: {len(self.routes)}")
        for target in self.default_bus.targets:
            lines.append(
                f"rule {target.rule}: AWS service events on the default bus -> {target.function}"
            )
        for route in self.routes:
            lines.append(f"  {route.method:6} {route.resource}")
        for schedule in self.schedules.schedules.values():
            when = schedule.expression + ("" if schedule.period_seconds else " (fire on demand)")
            lines.append(f"schedule {schedule.name}: {when}")
        for resource_type, count in sorted(p.run_locally.items()):
            lines.append(f"run locally: {count} {resource_type} ({RUN_LOCALLY[resource_type]})")
        for resource_type, count in sorted(p.not_needed.items()):
            lines.append(
                f"not needed locally: {count} {resource_type} ({NOT_NEEDED_LOCALLY[resource_type]})"
            )
        for item in p.unsupported:
            lines.append(f"UNSUPPORTED locally, not run: {item}")
        return lines
