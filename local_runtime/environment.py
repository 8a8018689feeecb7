"""Everything `make demo`, `opayo-fba local up` and the end-to-end tests run together:
one Amazon sandbox per seller account and one Opayo sandbox per vendor in the template, and
the local runtime running the synthesized template against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from local_runtime.runtime import LocalRuntime, RuntimeOptions
from local_runtime.seeds import (
    sandbox_secret_values,
    seller_accounts_in,
    seller_credentials,
    vendors_in,
)
from local_runtime.template import Template
from sandbox.amazon.app import create_app as create_amazon_app
from sandbox.amazon.options import AmazonSandboxOptions, NotificationTarget
from sandbox.amazon.options import Credentials as AmazonCredentials
from sandbox.common.server import ThreadedServer
from sandbox.opayo.app import close_app as close_opayo_app
from sandbox.opayo.app import create_app as create_opayo_app
from sandbox.opayo.options import OpayoSandboxOptions

AMAZON_NOTIFICATIONS_HANDLER = "amazon_notifications.handler"
# Locally the journal step uses the example chart of accounts unless told otherwise.
EXAMPLE_CHART_OF_ACCOUNTS = (
    Path(__file__).resolve().parents[1] / "config" / "chart-of-accounts.yaml"
)
OPAYO_MAX_TIME_FACTOR = 10.0


@dataclass
class EnvironmentOptions:
    template: Path
    region: str = "eu-west-2"
    # How much faster than real time the sandboxes' clocks and the saga's waits run.
    time_factor: float = 60.0
    api_port: int = 0
    moto_port: int | None = None
    # The first seller account's sandbox (the others take any free port).
    amazon_port: int = 0
    opayo_port: int = 0
    # The first seller account's sandbox options (its credentials are the account's).
    amazon: AmazonSandboxOptions | None = None
    opayo: dict[str, OpayoSandboxOptions] = field(default_factory=dict)
    run_schedules: bool = True
    # Extra environment for every function (the demo quietens logs and metrics with it).
    function_environment: dict[str, str] = field(default_factory=dict)
    # False: every function in this process, one invocation at a time (tests that hook into
    # the functions' own loggers); True: each invocation in its own worker, as Lambda.
    concurrent: bool = True


def amazon_notifications_queue(template: Template) -> str | None:
    """The queue the template's Amazon notifications consumer reads, if there is one."""
    consumers = {
        f.logical_id
        for f in template.of_type("AWS::Lambda::Function")
        if f.properties.get("Handler") == AMAZON_NOTIFICATIONS_HANDLER
    }
    for mapping in template.of_type("AWS::Lambda::EventSourceMapping"):
        function = mapping.properties.get("FunctionName")
        if isinstance(function, dict) and function.get("Ref") in consumers:
            source = mapping.properties["EventSourceArn"]
            logical_id = source["Fn::GetAtt"][0]
            return str(template.ref(logical_id))
    return None


def _function_environment(options: EnvironmentOptions) -> dict[str, str]:
    environment = dict(options.function_environment)
    if EXAMPLE_CHART_OF_ACCOUNTS.is_file():
        environment.setdefault("RECONCILE_CONFIG", str(EXAMPLE_CHART_OF_ACCOUNTS))
    return environment


class LocalEnvironment:
    def __init__(self, options: EnvironmentOptions) -> None:
        self.options = options
        # The first seller account's sandbox, and every account's by account id.
        self.amazon: ThreadedServer | None = None
        self.amazons: dict[str, ThreadedServer] = {}
        self.opayo: dict[str, ThreadedServer] = {}
        self.runtime: LocalRuntime | None = None

    def start(self) -> LocalEnvironment:
        o = self.options
        template = Template.load(o.template, o.region)
        opayo_urls = {}
        for vendor in vendors_in(template):
            # Opayo's session keys and card identifiers live 400 s; a clock as fast as the
            # fulfillment centre's would expire them before the shop could use them.
            sandbox_options = o.opayo.get(vendor) or OpayoSandboxOptions(
                vendor=vendor, clock_factor=min(o.time_factor, OPAYO_MAX_TIME_FACTOR)
            )
            server = ThreadedServer(create_opayo_app(sandbox_options), port=o.opayo_port)
            opayo_urls[vendor] = server.start()
            self.opayo[vendor] = server
        amazon: dict[str, tuple[str, AmazonCredentials]] = {}
        for index, (account, marketplaces) in enumerate(seller_accounts_in(template).items()):
            credentials = seller_credentials(index, account, marketplaces)
            base = (o.amazon if index == 0 else None) or AmazonSandboxOptions(
                clock_factor=o.time_factor,
                history_limit=1000,
                # Clients cache a token for an hour of real time; so does the fast sandbox.
                token_lifetime_seconds=int(3600 * max(1.0, o.time_factor)),
                # Each seller's own orders on Amazon; the first seller's are the demo's.
                seed_amazon_orders=index == 0,
            )
            amazon_options = base.model_copy(update={"credentials": credentials})
            server = ThreadedServer(
                create_amazon_app(amazon_options), port=o.amazon_port if index == 0 else 0
            )
            amazon[account] = (server.start(), credentials)
            self.amazons[account] = server
        self.amazon = next(iter(self.amazons.values()), None)
        self.runtime = LocalRuntime(
            RuntimeOptions(
                template=o.template,
                region=o.region,
                time_factor=o.time_factor,
                secret_values=sandbox_secret_values(template, amazon, opayo_urls),
                api_port=o.api_port,
                moto_port=o.moto_port,
                run_schedules=o.run_schedules,
                environment_overrides=_function_environment(o),
                concurrent=o.concurrent,
            )
        ).start()
        queue = amazon_notifications_queue(self.runtime.template)
        if queue is not None:
            target = NotificationTarget(
                kind="sqs", url=queue, endpoint_url=self.runtime.moto_url or None, region=o.region
            )
            for amazon_url, _ in amazon.values():
                httpx.post(
                    f"{amazon_url}/_sandbox/notifications",
                    json={"targets": [target.model_dump(mode="json")]},
                ).raise_for_status()
        return self

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        for server in self.amazons.values():
            server.app.state.sandbox.close()  # type: ignore[attr-defined]
            server.stop()
        for server in self.opayo.values():
            close_opayo_app(server.app)  # type: ignore[arg-type]
            server.stop()

    def __enter__(self) -> LocalEnvironment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def urls(self) -> dict[str, str]:
        if self.runtime is None or self.amazon is None:
            raise RuntimeError("the local environment is not running")
        urls = {"api": self.runtime.api_url, "amazon": self.amazon.url}
        if len(self.amazons) > 1:
            urls.update({f"amazon:{account}": s.url for account, s in self.amazons.items()})
        urls.update({f"opayo:{vendor}": server.url for vendor, server in self.opayo.items()})
        if self.runtime.moto_url:
            urls["aws"] = self.runtime.moto_url
        return urls
