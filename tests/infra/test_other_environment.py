"""A second environment (prod in cdk.json) builds from its own values, not from dev's.

Built without the cdk-nag packs (the session's synthesis of dev runs them): this test only
checks that configuration flows into the template.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.config import EnvironmentConfig, load_config
from opayo_fba.settings import required_variables
from opayo_fba.settings.catalogue import HANDLER_SETTINGS
from tests.infra.conftest import cdk_context, function_environment, of_type
from tests.infra.test_function_settings import own_variables, read_variables


@pytest.fixture(scope="module")
def prod() -> EnvironmentConfig:
    return load_config({**cdk_context(), "opayo-fba:environment": "prod"})


@pytest.fixture(scope="module")
def prod_template(prod: EnvironmentConfig, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stack import OpayoFbaStack, stack_id

    outdir: Path = tmp_path_factory.mktemp("prod-cdk-out")
    app = cdk.App(context=cdk_context(), outdir=str(outdir))
    stack = OpayoFbaStack(app, stack_id(prod), config=prod)
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


@pytest.fixture(scope="module")
def prod_resources(prod_template: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = prod_template["Resources"]
    return resources


def test_cfn_lint_finds_no_errors_in_the_prod_template(
    prod_template: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "OpayoFba-prod.template.json"
    path.write_text(json.dumps(prod_template))
    result = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == [], "\n".join(errors)
    assert result.returncode in (0, 4, 8), result.stderr


def test_dlq_max_receive_count_comes_from_the_environment(
    prod: EnvironmentConfig, prod_resources: dict[str, Any]
) -> None:
    dev = load_config(cdk_context())
    assert prod.dlq_max_receive_count != dev.dlq_max_receive_count
    counts = {
        q["Properties"]["RedrivePolicy"]["maxReceiveCount"]
        for q in of_type(prod_resources, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in q["Properties"]
    }
    assert counts == {prod.dlq_max_receive_count}


def test_schedules_and_secrets_follow_the_seller_accounts(
    prod: EnvironmentConfig, prod_resources: dict[str, Any]
) -> None:
    assert len(prod.seller_accounts) == 2
    schedules = of_type(prod_resources, "AWS::Scheduler::Schedule")
    assert len(schedules) == 5 * len(prod.seller_accounts) + 3 * len(prod.opayo_vendors)
    secrets = of_type(prod_resources, "AWS::SecretsManager::Secret")
    assert {s["Properties"]["Name"] for s in secrets.values()} >= {
        f"opayo-fba/prod/amazon/{seller.id}" for seller in prod.seller_accounts
    }


def test_s3_mapping_templates_reach_validate_and_map_with_a_read_grant(
    prod: EnvironmentConfig, prod_resources: dict[str, Any]
) -> None:
    (ref,) = prod.mapping_templates
    ((validate_id, validate),) = [
        (k, f)
        for k, f in of_type(prod_resources, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "saga_validate_and_map.handler"
    ]
    assert validate["Properties"]["Environment"]["Variables"]["MAPPING_TEMPLATES"] == ref
    role = validate["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for p in of_type(prod_resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    readers = [s for s in statements if s["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]]
    assert len(readers) == 1
    assert ref.removeprefix("s3://") in json.dumps(readers[0]["Resource"])
    assert validate_id


SKU_MAPPING_READERS = (
    "inventory_poller",
    "amazon_notifications",
    "orders_poller",
    "report_poller",
)


@pytest.mark.parametrize("module", SKU_MAPPING_READERS)
def test_sku_mappings_reach_the_functions_that_read_skus_with_a_read_grant(
    prod: EnvironmentConfig, prod_resources: dict[str, Any], module: str
) -> None:
    mappings = {s.id: s.sku_mapping for s in prod.seller_accounts if s.sku_mapping}
    assert mappings == {"uk-main": "s3://example-merchant-config/opayo-fba/sku-mapping-uk.csv"}
    ((_, function),) = [
        (k, f)
        for k, f in of_type(prod_resources, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == f"{module}.handler"
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["SKU_MAPPINGS"]) == mappings
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    readers = [
        s
        for p in of_type(prod_resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "s3:GetObject"
    ]
    assert len(readers) == 1
    resource = json.dumps(readers[0]["Resource"])
    assert "example-merchant-config/opayo-fba/sku-mapping-uk.csv" in resource
    assert "*" not in resource


def test_no_function_gets_a_sku_mapping_when_none_is_configured(
    resources: dict[str, Any],
) -> None:
    for function in of_type(resources, "AWS::Lambda::Function").values():
        assert "SKU_MAPPINGS" not in function["Properties"]["Environment"]["Variables"]


def test_the_prod_example_routes_uk_and_eu_orders_to_their_own_pools_and_vendors(
    prod: EnvironmentConfig, prod_resources: dict[str, Any]
) -> None:
    from opayo_fba.routing import RoutingRules

    assert [s.id for s in prod.seller_accounts] == ["uk-main", "eu-main"]
    assert len(prod.opayo_vendors) == 2
    (intake,) = [
        f
        for f in of_type(prod_resources, "AWS::Lambda::Function").values()
        if f["Metadata"]["aws:cdk:path"].endswith("/OrderIntakeFunction/Resource")
    ]
    variables = intake["Properties"]["Environment"]["Variables"]
    rules = RoutingRules.from_json(variables["ROUTING_RULES"])
    assert rules == prod.routing
    accounts = {rule.seller_account for rule in rules.fulfillment}
    vendors = {rule.vendor for rule in rules.payments}
    assert accounts == {"uk-main", "eu-main"}
    assert vendors == {"exampleuk", "exampleeu"}


def test_each_accounts_orders_poller_polls_every_marketplace_it_sells_in(
    prod: EnvironmentConfig, prod_resources: dict[str, Any]
) -> None:
    inputs = [
        json.loads(s["Properties"]["Target"]["Input"])
        for s in of_type(prod_resources, "AWS::Scheduler::Schedule").values()
        if "OrdersPolling" in s["Metadata"]["aws:cdk:path"]
    ]
    assert sorted(inputs, key=lambda i: i["sellerAccountId"]) == sorted(
        (
            {"sellerAccountId": seller.id, "marketplaceIds": seller.marketplace_ids}
            for seller in prod.seller_accounts
        ),
        key=lambda i: str(i["sellerAccountId"]),
    )
    assert any(len(i["marketplaceIds"]) == 4 for i in inputs)  # the EU account's four


@pytest.mark.parametrize("module", sorted(HANDLER_SETTINGS))
def test_the_handlers_settings_read_every_variable_prod_gives_their_functions(
    module: str, prod_resources: dict[str, Any]
) -> None:
    """prod configures routing, mapping templates and SKU mappings: their variables are read
    by the handlers' settings (optional ones, which dev does without)."""
    model = HANDLER_SETTINGS[module]
    given = own_variables(prod_resources, module)
    assert given <= read_variables(model)
    assert required_variables(model) <= given
    model.model_validate(function_environment(prod_resources, module))
