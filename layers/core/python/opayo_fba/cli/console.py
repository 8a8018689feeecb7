"""`opayo-fba console`: the web console on 127.0.0.1, against the local runtime or a stack."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from opayo_fba.cli.options import EndpointOption, RegionOption, StageOption
from opayo_fba.cli.stack import (
    STACK_PREFIX,
    aws_session,
    fail,
    not_found_hint,
    stage_config,
)

if TYPE_CHECKING:
    from opayo_fba.console.backend import JournalAccess, StackBackend
    from opayo_fba.console.facts import StackFacts
    from opayo_fba.ops.status import StackResources


def connect(
    stack_name: str,
    accounts: Mapping[str, Sequence[str]] | None,
    endpoint_url: str | None,
    region: str | None,
    facts: StackFacts | None = None,
) -> StackBackend:
    """The console's backend on `stack_name`: its resources by the locator `status` uses (the
    local runtime's names with an endpoint, else CloudFormation); its seller accounts with
    their marketplaces as given (the stage's configuration, the local template's) or, if
    None, those the tables name; its configuration (`facts`) as given (the local runtime's
    template) or, on AWS, as CloudFormation holds its template and outputs. Raises
    ops.status.StackNotFound, or botocore's errors."""
    from opayo_fba.console.backend import StackBackend
    from opayo_fba.ops import status as ops
    from opayo_fba.store.orders import OrderStore
    from opayo_fba.store.watermarks import WatermarkStore

    session, kwargs = aws_session(endpoint_url, region)
    dynamodb = session.resource("dynamodb", **kwargs)
    stepfunctions = session.client("stepfunctions", **kwargs)
    sqs = session.client("sqs", **kwargs)
    local = endpoint_url is not None
    locator: ops.StackLocator = (
        ops.LocalRuntimeLocator(
            session.client("dynamodb", **kwargs),
            sqs,
            stepfunctions,
            s3=session.client("s3", **kwargs),
            events=session.client("events", **kwargs),
            lambda_=session.client("lambda", **kwargs),
        )
        if local
        else ops.CloudFormationLocator(session.client("cloudformation", **kwargs))
    )
    resources = locator.locate(stack_name)
    orders = OrderStore(dynamodb.Table(resources.orders_table))
    watermarks = WatermarkStore(dynamodb.Table(resources.connector_state_table))
    if accounts is None:
        accounts = ops.scopes_from_tables(orders, watermarks).accounts
    if facts is None and endpoint_url is None:
        facts = deployed_facts(session.client("cloudformation", **kwargs), stack_name)
    return StackBackend(
        stack_name,
        orders,
        accounts,
        stepfunctions=stepfunctions,
        state_machine_arns=resources.state_machine_arns,
        sqs=sqs,
        queue_names=resources.queue_names,
        # As `opayo-fba dlq redrive`: SQS moves them itself on AWS; moto cannot.
        server_side_redrive=endpoint_url is None,
        facts=facts,
        watermarks=watermarks,
        journals=_journal_access(session, kwargs, resources, local),
        actions=_api_actions(session, kwargs, facts),
        lambda_=_lambda_client(session, kwargs),
        functions=resources.functions,
    )


def _lambda_client(session: Any, kwargs: dict[str, Any]) -> Any:
    """For replaying dead letters: it waits as long as a function may run (Lambda's 15
    minutes) and never sends an invocation again on its own (botocore retries a read that
    timed out: the function would run twice)."""
    from botocore.config import Config

    config = Config(read_timeout=900, retries={"total_max_attempts": 1})
    return session.client("lambda", config=config, **kwargs)


def _api_actions(session: Any, kwargs: dict[str, Any], facts: StackFacts | None) -> Any:
    """The order actions, through the stack's API signed with the operator's credentials
    (None without the API's URL or any credentials)."""
    from opayo_fba.console.actions import ApiActions

    if facts is None or not facts.api_url:
        return None
    if "aws_access_key_id" in kwargs:  # the local runtime, with no credentials configured
        from botocore.credentials import Credentials

        credentials = Credentials(kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"])
    else:
        credentials = session.get_credentials()
    if credentials is None:
        return None
    region = kwargs.get("region_name") or session.region_name or "eu-west-2"
    return ApiActions(facts.api_url, credentials, region)


def _journal_access(
    session: Any, kwargs: dict[str, Any], resources: StackResources, local: bool
) -> JournalAccess | None:
    """The Reconciliation page's access: the stack's report archive, and against the local
    runtime also what a run on uploaded files needs (the ledger, the bus, the orders and the
    packaged chart of accounts; a deployed stack journals what its schedules fetch)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from opayo_fba.console.backend import JournalAccess
    from opayo_fba.ops.journal_runs import RunFileCache

    if resources.reports_bucket is None:
        return None
    archive = RunFileCache(session.client("s3", **kwargs), resources.reports_bucket)
    try:
        operator = str(session.client("sts", **kwargs).get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError):
        operator = "an operator whose AWS identity could not be read"
    if not local or resources.event_bus is None:
        return JournalAccess(archive, operator)
    from opayo_fba.reconcile.config import default_config_path, load_config
    from opayo_fba.store.events import EventBridgePublisher
    from opayo_fba.store.order_export import OrderExportStore
    from opayo_fba.store.report_requests import ReportLedger

    dynamodb = session.resource("dynamodb", **kwargs)
    return JournalAccess(
        archive,
        operator,
        ledger=ReportLedger(dynamodb.Table(resources.connector_state_table)),
        events=EventBridgePublisher(resources.event_bus, session.client("events", **kwargs)),
        orders=OrderExportStore(dynamodb.Table(resources.orders_table)),
        config=load_config(default_config_path()),
    )


def deployed_facts(cloudformation: Any, stack_name: str) -> StackFacts:
    """A deployed stack's configuration: its template as CloudFormation processed it, and its
    outputs (the egress IP, the API's URL)."""
    import json

    from opayo_fba.console.facts import facts_from_template

    body = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")[
        "TemplateBody"
    ]
    template = json.loads(body) if isinstance(body, str) else dict(body)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return facts_from_template(template, outputs)


def console(
    stage: StageOption = None,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (default: a free one)."),
    ] = 0,
) -> None:
    """Serve the web console on 127.0.0.1 and print its URL (with a one-off token); Ctrl-C
    stops it. Against the local runtime with --endpoint-url, else the stage's stack on AWS
    with your own credentials."""
    from botocore.exceptions import BotoCoreError, ClientError

    from opayo_fba.console.app import create_app
    from opayo_fba.console.assets import AssetsMissing, ensure_vendored
    from opayo_fba.console.server import ConsoleServer, console_url, new_token
    from opayo_fba.ops.status import StackNotFound

    try:
        ensure_vendored()
    except AssetsMissing as error:
        raise fail(str(error), "") from None
    stage_name, config = stage_config(stage)
    stack_name = f"{STACK_PREFIX}-{stage_name}"
    region = region or (config.region if config is not None else None)
    out = Console(stderr=True)
    try:
        with out.status(f"Finding {stack_name}..."):
            accounts = (
                {s.id: list(s.marketplace_ids) for s in config.seller_accounts}
                if config is not None
                else None
            )
            backend = connect(stack_name, accounts, endpoint_url, region)
    except StackNotFound as error:
        raise fail(str(error), not_found_hint(endpoint_url)) from None
    except (BotoCoreError, ClientError) as error:
        raise fail(str(error), "check your AWS credentials, --region and --endpoint-url") from None
    token = new_token()
    try:
        server = ConsoleServer(create_app(backend, token), port)
    except OSError as error:
        raise fail(
            f"cannot listen on 127.0.0.1:{port}: {error.strerror}", "try another --port"
        ) from None
    typer.echo(f"The console of {stack_name}, for this machine only:")
    typer.echo(f"    {console_url(server.port, token)}")
    typer.echo("Open that link (it signs this browser in). Ctrl-C stops the console.")
    # uvicorn stops on SIGINT and then raises it again: Ctrl-C is how it ends, not an error.
    with contextlib.suppress(KeyboardInterrupt):
        server.serve()
    typer.echo("Console stopped.")
