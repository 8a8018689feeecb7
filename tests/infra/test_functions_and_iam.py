"""Functions: one module per function, the same runtime and layers, and least-privilege roles."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.constants import ALL_FUNCTIONS, LAMBDA_PYTHON_VERSION, SAGA_FUNCTIONS
from opayo_fba.settings import forget_settings, read_settings, settings
from opayo_fba.settings.catalogue import HANDLER_SETTINGS
from opayo_fba.wiring import Wiring
from tests.infra.conftest import PROJECT_ROOT, function_environment, of_type

# Actions AWS offers no resource-level permission for: the only ones allowed on "*".
RESOURCE_STAR_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def _functions(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return of_type(resources, "AWS::Lambda::Function")


def _policy_statements(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, policy in of_type(resources, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found.append((logical_id, statement))
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("spec", ALL_FUNCTIONS, ids=lambda spec: spec.module)
def test_every_handler_initialises_with_the_environment_the_stack_gives_it(
    spec: Any, resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Import each handler (its cold start) with exactly its function's template environment:
    a setting the handler requires but the stack does not set fails here, not in AWS. The
    composition root it builds from is the handler's own settings model."""
    assert (PROJECT_ROOT / "functions" / f"{spec.module}.py").is_file()
    _set_function_env(resources, spec.module, monkeypatch)
    forget_settings()  # settings are read once per cold start
    monkeypatch.delitem(sys.modules, f"functions.{spec.module}", raising=False)
    try:
        module = importlib.import_module(f"functions.{spec.module}")
        loaded = settings()
    finally:
        forget_settings()  # no other test may see these placeholder settings
    assert callable(module.handler)
    assert type(loaded) is HANDLER_SETTINGS[spec.module]


# What each handler builds from opayo_fba.wiring on its first event (lazily, after import):
# a method is called, a property read.
WIRING_NEEDS = {spec.module: "saga" for spec in SAGA_FUNCTIONS} | {
    "order_intake": "intake",
    "payment_events": "starter",
    "opayo_webhook": "sealer",
    "order_cancel": "resumer",
    "order_refund": "saga",
    "order_return": "saga",
    "order_resubmit": "saga",
    "saga_recovery": "saga",
}


def _set_function_env(
    resources: dict[str, Any], module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in function_environment(resources, module).items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(("module", "needs"), sorted(WIRING_NEEDS.items()))
def test_domain_dependencies_build_with_the_environment_the_stack_gives(
    module: str, needs: str, resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composition root requires settings lazily (e.g. the bus for every saga step):
    building it from the handler's settings, read from the function's template environment,
    proves the stack sets them."""
    _set_function_env(resources, module, monkeypatch)
    built = getattr(Wiring(read_settings(HANDLER_SETTINGS[module])), needs)
    if callable(built):
        built = built()
    assert built is not None


def test_template_has_exactly_the_listed_functions(resources: dict[str, Any]) -> None:
    handlers = sorted(f["Properties"]["Handler"] for f in _functions(resources).values())
    assert handlers == sorted(spec.handler for spec in ALL_FUNCTIONS)


def test_all_functions_share_runtime_architecture_layers_and_tracing(
    resources: dict[str, Any],
) -> None:
    layers = set(of_type(resources, "AWS::Lambda::LayerVersion"))
    assert len(layers) == 2
    for logical_id, function in _functions(resources).items():
        props = function["Properties"]
        assert props["Runtime"] == f"python{LAMBDA_PYTHON_VERSION}", logical_id
        assert props["Architectures"] == ["arm64"], logical_id
        assert props["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert props["LoggingConfig"]["LogFormat"] == "JSON", logical_id
        assert {layer["Ref"] for layer in props["Layers"]} == layers, logical_id
        log_group = resources[props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert "KmsKeyId" in log_group["Properties"], logical_id
        assert log_group["Properties"]["RetentionInDays"] >= 30


def test_no_function_records_return_values_in_its_traces(resources: dict[str, Any]) -> None:
    """Return values (an order's view, a saga step's state) carry personal data."""
    for logical_id, function in _functions(resources).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables.get("POWERTOOLS_TRACER_CAPTURE_RESPONSE") == "false", logical_id


def test_no_function_looks_for_pydantic_plugins_at_cold_start(resources: dict[str, Any]) -> None:
    """The layer ships none (test_packaging), so looking would only cost the cold start."""
    for logical_id, function in _functions(resources).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables.get("PYDANTIC_DISABLE_PLUGINS") == "__all__", logical_id


def test_each_function_has_its_own_role(resources: dict[str, Any]) -> None:
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in _functions(resources).values()]
    assert len(roles) == len(set(roles))


def test_function_environments_hold_only_names_and_arns(resources: dict[str, Any]) -> None:
    allowed_literals = {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
        "PYDANTIC_DISABLE_PLUGINS",
        "OPAYO_FBA_ENVIRONMENT",
        "OPAYO_VENDORS",
        "SELLER_MARKETPLACES",  # seller account ids -> marketplace ids: names, no secret
        "OPAYO_REDIRECT_URL",
        "MAPPING_TEMPLATES",
        "FULFILLMENT_POLICY",  # FillOrKill or FillAllAvailable
        "RETURN_DEDUCTIONS",  # condition -> percent kept
        "UNFULFILLABLE_AUTHORISATIONS",  # abort or hold
        "SKU_MAPPINGS",  # seller account -> s3:// object of its SKU mapping CSV
    }
    for logical_id, function in _functions(resources).items():
        for name, value in function["Properties"]["Environment"]["Variables"].items():
            if isinstance(value, str):
                assert name in allowed_literals, (logical_id, name, value)
            else:
                text = json.dumps(value)
                assert "Ref" in text or "Fn::" in text, (logical_id, name)


def test_no_policy_grants_a_wildcard_action(resources: dict[str, Any]) -> None:
    for logical_id, statement in _policy_statements(resources):
        for action in _as_list(statement["Action"]):
            assert action != "*", logical_id
            assert not action.endswith(":*"), (logical_id, action)


def test_resource_star_only_where_aws_allows_nothing_narrower(resources: dict[str, Any]) -> None:
    for logical_id, statement in _policy_statements(resources):
        if "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= RESOURCE_STAR_ACTIONS, (
                logical_id,
                statement["Action"],
            )


def _actions_of(resources: dict[str, Any], function: dict[str, Any]) -> set[str]:
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions.update(_as_list(statement["Action"]))
    return actions


def _role_actions(resources: dict[str, Any], function_path: str) -> set[str]:
    (function,) = [
        f
        for f in _functions(resources).values()
        if f["Metadata"]["aws:cdk:path"].endswith(f"{function_path}/Resource")
    ]
    return _actions_of(resources, function)


def _orders_table_actions(resources: dict[str, Any], function: dict[str, Any]) -> set[str]:
    """The actions `function`'s role may take on the orders table (or its indexes)."""
    (table,) = [
        logical_id
        for logical_id in of_type(resources, "AWS::DynamoDB::Table")
        if "OrdersTable" in logical_id
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    actions: set[str] = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if f'"{table}"' in json.dumps(statement.get("Resource")):
                    actions.update(_as_list(statement["Action"]))
    return actions


def test_every_function_that_writes_orders_may_update_their_daily_rollups(
    resources: dict[str, Any],
) -> None:
    """An order's Put goes with an UpdateItem of its day's rollup in one TransactWriteItems
    (store/daily_rollup.py), and a transaction needs each of its actions' permissions: a role
    that may put an order but not update an item would fail every order write."""
    writers = {
        logical_id: actions
        for logical_id, function in _functions(resources).items()
        if "dynamodb:PutItem" in (actions := _orders_table_actions(resources, function))
    }
    assert len(writers) > 5  # the intake, the saga's steps, the consumers, the jobs...
    cannot = sorted(
        name for name, actions in writers.items() if "dynamodb:UpdateItem" not in actions
    )
    assert cannot == []


def test_read_only_endpoint_cannot_write(resources: dict[str, Any]) -> None:
    actions = _role_actions(resources, "/Api/OrderStatusFunction")
    assert "dynamodb:GetItem" in actions
    assert not {a for a in actions if a.startswith("dynamodb:") and ("Put" in a or "Delete" in a)}
    assert "secretsmanager:GetSecretValue" not in actions


def test_webhook_can_enqueue_but_not_start_the_saga(resources: dict[str, Any]) -> None:
    actions = _role_actions(resources, "/Api/OpayoWebhookFunction")
    assert "sqs:SendMessage" in actions
    assert "states:StartExecution" not in actions
    assert "secretsmanager:GetSecretValue" not in actions


def test_only_intake_paths_start_the_saga(resources: dict[str, Any]) -> None:
    starters = {
        f["Metadata"]["aws:cdk:path"].split("/")[2]
        for f in _functions(resources).values()
        if "states:StartExecution" in _actions_of(resources, f)
    }
    # Orders from the API, payments decided by Opayo's notifications or by Pi polling, card
    # payments decided by their 3-D Secure challenge, and resubmissions of orders Amazon
    # could not fulfil (a new attempt, a new execution).
    assert starters == {
        "OrderIntakeFunction",
        "OrderResubmitFunction",
        "Order3dsChallengeFunction",
        "PaymentEventsFunction",
        "PiStatusPollerFunction",
    }


def test_the_challenge_route_reaches_only_orders_pi_and_the_saga(
    resources: dict[str, Any],
) -> None:
    actions = _role_actions(resources, "/Api/Order3dsChallengeFunction")
    assert {"dynamodb:PutItem", "secretsmanager:GetSecretValue", "states:StartExecution"} <= (
        actions
    )
    # Nothing to queue, and no SecurityKey to open (card orders have none).
    assert not {a for a in actions if a.startswith("sqs:")}
    (function,) = [
        f
        for f in _functions(resources).values()
        if f["Metadata"]["aws:cdk:path"].endswith("/Api/Order3dsChallengeFunction/Resource")
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            assert "ServerSecurityKeysKey" not in str(policy["Properties"]["PolicyDocument"])


def test_payment_steps_never_see_amazon_secrets(resources: dict[str, Any]) -> None:
    for step in ("SagaCapturePayment", "SagaAbortPayment", "SagaRefundPayment"):
        function = resources[
            next(
                k
                for k, f in _functions(resources).items()
                if f["Metadata"]["aws:cdk:path"].endswith(f"/{step}Function/Resource")
            )
        ]
        assert "SELLER_SECRET_ARNS" not in function["Properties"]["Environment"]["Variables"]


def test_scheduler_and_saga_roles_invoke_only_their_functions(resources: dict[str, Any]) -> None:
    for logical_id, statement in _policy_statements(resources):
        if "lambda:InvokeFunction" in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                text = json.dumps(resource)
                assert "Fn::GetAtt" in text, (logical_id, resource)


def test_handler_modules_stay_thin() -> None:
    for path in Path(PROJECT_ROOT / "functions").glob("*.py"):
        assert len(path.read_text().splitlines()) < 80, f"{path.name}: logic belongs in the layer"


def test_pollers_get_what_their_domain_functions_touch(resources: dict[str, Any]) -> None:
    """docs/pollers-and-reports.md: journals read orders, write the archive, publish events."""
    for poller in ("ReportPoller", "OpayoBatchFetch"):
        actions = _role_actions(resources, f"/Schedules/{poller}Function")
        assert {"dynamodb:Query", "s3:PutObject", "events:PutEvents"} <= actions, poller
        assert "dynamodb:PutItem" in actions  # the connector-state ledger
    orders = _role_actions(resources, "/Schedules/OrdersPollerFunction")
    assert {"events:PutEvents", "dynamodb:PutItem"} <= orders
    assert "s3:PutObject" not in orders
    scheduler = _role_actions(resources, "/Schedules/ReportSchedulerFunction")
    assert "s3:PutObject" not in scheduler
    assert "events:PutEvents" not in scheduler


def test_webhook_replies_with_the_configured_redirect_url(
    resources: dict[str, Any], config: Any
) -> None:
    (webhook,) = [
        f
        for f in _functions(resources).values()
        if f["Properties"]["Handler"] == "opayo_webhook.handler"
    ]
    variables = webhook["Properties"]["Environment"]["Variables"]
    assert variables["OPAYO_REDIRECT_URL"] == config.opayo_redirect_url


def test_s3_mapping_templates_are_readable_object_by_object() -> None:
    """Only the configured template objects, not their buckets (a stack of its own: fast)."""
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from infra.saga import _grant_template_reads

    stack = cdk.Stack(cdk.App(), "T")
    function = lambda_.Function(
        stack,
        "F",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
    )
    _grant_template_reads(
        function, ["starter:shopify", "s3://merchant-config/mapping/orders.yaml?versionId=3HL4kqtJ"]
    )
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":s3:::merchant-config/mapping/orders.yaml"],
        ]
    }


def test_only_the_webhook_and_the_server_payment_steps_open_security_keys(
    resources: dict[str, Any],
) -> None:
    """The Shared Protocol quotes a Server transaction's SecurityKey: the saga's capture,
    abort and refund steps, the refund route, the recovery and the held-authorisations check
    may decrypt it,
    as the webhook may (to verify notifications);
    the intake may only encrypt; no other function touches the key."""
    (key,) = [
        logical_id
        for logical_id, resource in of_type(resources, "AWS::KMS::Key").items()
        if "SecurityKeys" in resource["Properties"].get("Description", "")
    ]
    role_to_function = {
        f["Properties"]["Role"]["Fn::GetAtt"][0]: f["Metadata"]["aws:cdk:path"].split("/")[2]
        for f in _functions(resources).values()
    }
    decrypting: set[str] = set()
    encrypting: set[str] = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if {"Fn::GetAtt": [key, "Arn"]} not in _as_list(statement["Resource"]):
                continue
            actions = set(_as_list(statement["Action"]))
            names = {
                role_to_function[role["Ref"]]
                for role in policy["Properties"]["Roles"]
                if role["Ref"] in role_to_function
            }
            if "kms:Decrypt" in actions:
                decrypting |= names
            if "kms:Encrypt" in actions:
                encrypting |= names
    assert decrypting == {
        "OpayoWebhookFunction",
        "SagaCapturePaymentFunction",
        "SagaAbortPaymentFunction",
        "SagaRefundPaymentFunction",
        "SagaRefundUnshippedFunction",
        "AfterSaleTrackerFunction",
        "OrderRefundFunction",
        "SagaRecoveryFunction",
        "HeldAuthorisationsCheckFunction",
    }
    assert encrypting == {"OrderIntakeFunction"}


def test_only_the_abort_step_reads_the_unfulfillable_authorisations_policy(
    resources: dict[str, Any],
) -> None:
    """`unfulfillableAuthorisations` (default abort) reaches the one step that acts on it."""
    having = {
        function["Metadata"]["aws:cdk:path"].split("/")[-2]: variables[
            "UNFULFILLABLE_AUTHORISATIONS"
        ]
        for function in _functions(resources).values()
        if "UNFULFILLABLE_AUTHORISATIONS"
        in (variables := function["Properties"].get("Environment", {}).get("Variables", {}))
    }
    assert having == {"SagaAbortPaymentFunction": "abort"}
