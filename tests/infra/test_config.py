"""Configuration from cdk.json context: valid blocks load, wrong ones fail naming the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra.config import load_config
from opayo_fba.errors import ConfigurationError
from tests.infra.conftest import PROJECT_ROOT


def _context(environment: str = "dev") -> dict[str, Any]:
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    return {**copy.deepcopy(context), "opayo-fba:environment": environment}


def _with(change: dict[str, Any], environment: str = "dev") -> dict[str, Any]:
    context = _context(environment)
    block = context["opayo-fba:environments"][environment]
    for key, value in change.items():
        if value is None:
            del block[key]
        else:
            block[key] = value
    return context


@pytest.mark.parametrize("environment", ["dev", "twoaccounts", "prod"])
def test_every_environment_in_cdk_json_is_valid(environment: str) -> None:
    config = load_config(_context(environment))
    assert config.name == environment
    assert len(config.account) == 12
    assert config.dlq_max_receive_count >= 1
    assert config.seller_accounts
    assert config.opayo_vendors


def test_the_egress_nat_defaults_to_one_small_instance() -> None:
    config = load_config(_with({"egress": None}))
    assert (config.egress.nat, config.egress.nat_instance_type) == ("instance", "t4g.nano")
    assert config.egress.nat_ami_parameter is None
    gateway = load_config(_with({"egress": {"nat": "gateway"}}))
    assert gateway.egress.nat == "gateway"


def test_mapping_templates_accept_starters_and_s3_objects() -> None:
    refs = [
        "starter:shopify",
        "s3://merchant-config/mapping/orders.yaml",
        "s3://merchant-config/mapping/orders.yaml?versionId=3HL4kqtJ",
    ]
    assert load_config(_with({"mappingTemplates": refs})).mapping_templates == refs
    assert load_config(_context()).mapping_templates == []


def test_values_are_read_from_camel_case_context() -> None:
    config = load_config(_with({"dlqMaxReceiveCount": 7, "alertEmail": "ops@shop.example"}))
    assert config.dlq_max_receive_count == 7
    assert config.alert_email == "ops@shop.example"
    assert config.schedules.orders_polling == "rate(5 minutes)"


@pytest.mark.parametrize(
    ("change", "named_field"),
    [
        ({"account": None}, "dev.account: Field required"),
        ({"account": "12345"}, "dev.account"),
        ({"region": "mars-1"}, "dev.region"),
        ({"alertEmail": "not-an-address"}, "dev.alertEmail"),
        ({"dlqMaxReceiveCount": 0}, "dev.dlqMaxReceiveCount"),
        ({"dlqMaxReceiveCount": "five"}, "dev.dlqMaxReceiveCount"),
        ({"sellerAccounts": []}, "dev.sellerAccounts"),
        (
            {"opayoVendors": [{"name": "Bad Vendor!", "environment": "live"}]},
            "opayoVendors[0].name",
        ),
        (
            {"opayoVendors": [{"name": "v1", "environment": "staging"}]},
            "opayoVendors[0].environment",
        ),
        ({"logRetentionDays": 12}, "dev.logRetentionDays"),
        ({"opayoRedirectUrl": None}, "dev.opayoRedirectUrl: Field required"),
        ({"opayoRedirectUrl": "http://shop.example.com/done"}, "dev.opayoRedirectUrl"),
        ({"mappingTemplates": ["ftp://x/y.yaml"]}, "dev.mappingTemplates[0]"),
        ({"mappingTemplates": ["s3://bucket-only"]}, "dev.mappingTemplates[0]"),
        ({"dlqMaxRecieveCount": 5}, "dev.dlqMaxRecieveCount: Extra inputs are not permitted"),
        ({"egress": {"nat": "natgw"}}, "dev.egress.nat"),
        ({"egress": {"natInstanceType": "t3.micro"}}, "dev.egress.natInstanceType"),
        ({"egress": {"natAmiParameter": "fck-nat-ami"}}, "dev.egress.natAmiParameter"),
        ({"egress": {"nat": "gateway", "eip": "1.2.3.4"}}, "dev.egress.eip: Extra inputs"),
        ({"heldAuthorisationAlarmDays": 0}, "dev.heldAuthorisationAlarmDays"),
        ({"heldAuthorisationAlarmDays": 30}, "dev.heldAuthorisationAlarmDays"),
        (
            # Opayo releases no Deferred after 30 days: the policy must act before that.
            {"opayoVendors": [{"name": "v1", "environment": "live", "abortDeferredAfterDays": 30}]},
            "opayoVendors[0].abortDeferredAfterDays",
        ),
    ],
)
def test_a_wrong_value_names_its_field(change: dict[str, Any], named_field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(_with(change))
    message = str(caught.value)
    assert named_field in message
    assert "cdk.json" in message


def test_held_authorisations_default_to_alarming_after_six_days_and_no_abort() -> None:
    config = load_config(_with({"opayoVendors": [{"name": "v1", "environment": "live"}]}))
    assert config.held_authorisation_alarm_days == 6
    assert [v.abort_deferred_after_days for v in config.opayo_vendors] == [None]
    policy = {"opayoVendors": [{"name": "v1", "environment": "live", "abortDeferredAfterDays": 25}]}
    assert load_config(_with(policy)).opayo_vendors[0].abort_deferred_after_days == 25


def test_a_bad_schedule_expression_says_what_a_good_one_looks_like() -> None:
    context = _context()
    context["opayo-fba:environments"]["dev"]["schedules"]["reportPolling"] = "every 5 minutes"
    with pytest.raises(ConfigurationError, match=r"schedules\.reportPolling") as caught:
        load_config(context)
    assert "rate(5 minutes)" in str(caught.value)


def test_a_missing_schedule_is_named() -> None:
    context = _context()
    del context["opayo-fba:environments"]["dev"]["schedules"]["opayoPiStatusPolling"]
    with pytest.raises(ConfigurationError, match=r"schedules\.opayoPiStatusPolling"):
        load_config(context)


def test_duplicate_seller_ids_are_refused() -> None:
    seller = {"id": "uk-main", "region": "eu", "marketplaceIds": ["A1F83G8C2ARO7P"]}
    with pytest.raises(ConfigurationError, match="unique"):
        load_config(_with({"sellerAccounts": [seller, seller]}))


def test_an_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'staging' is not defined.*\['dev', 'prod', 'twoaccounts'\]"
    ):
        load_config(_context("staging"))


def test_no_environment_chosen_says_how_to_choose() -> None:
    context = _context()
    del context["opayo-fba:environment"]
    with pytest.raises(ConfigurationError, match="-c opayo-fba:environment="):
        load_config(context)


def test_no_environments_at_all() -> None:
    with pytest.raises(ConfigurationError, match="opayo-fba:environments"):
        load_config({"opayo-fba:environment": "dev"})


def test_app_py_stops_with_the_message_and_no_traceback(tmp_path: Any) -> None:
    """What `cdk synth` shows for a bad cdk.json: one line naming the field and the fix."""
    import os
    import subprocess
    import sys

    context = _with({"dlqMaxReceiveCount": 0})
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "error: invalid configuration in cdk.json context" in result.stderr
    assert "opayo-fba:environments.dev.dlqMaxReceiveCount" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))  # nothing synthesized


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        (
            {"fulfillment": [{"sellerAccount": "nobody", "marketplaceId": "A1F83G8C2ARO7P"}]},
            r"routing\.fulfillment\[0\]\.sellerAccount 'nobody' is not one of the sellerAccounts",
        ),
        (
            {"fulfillment": [{"sellerAccount": "uk-main", "marketplaceId": "A1PA6795UKMFR9"}]},
            r"marketplaceId 'A1PA6795UKMFR9' is not a marketplace of uk-main",
        ),
        (
            {"payments": [{"vendor": "othervendor"}]},
            r"routing\.payments\[0\]\.vendor 'othervendor' is not one of the opayoVendors",
        ),
        (
            {"fulfillment": [{"countries": ["XX"], "sellerAccount": "uk-main"}]},
            r"routing\.fulfillment\[0\]\.countries: Value error, unknown country 'XX'",
        ),
    ],
)
def test_routing_rules_must_name_configured_accounts_marketplaces_and_vendors(
    rule: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_config(_with({"routing": rule}))


def test_without_routing_rules_the_intake_gets_none() -> None:
    config = load_config(_context())  # dev has no routing rules
    assert config.routing_json() is None
    routed = load_config(_with({"routing": {"payments": [{"vendor": "sandboxvendor"}]}}))
    assert json.loads(routed.routing_json() or "{}") == {"payments": [{"vendor": "sandboxvendor"}]}
