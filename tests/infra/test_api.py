"""The REST API: routes, authorization, request validation, throttling, logs, tracing, WAF."""

from __future__ import annotations

from typing import Any

from infra.config import EnvironmentConfig
from tests.infra.conftest import of_type


def _route_paths(resources: dict[str, Any]) -> dict[str, str]:
    """logical id of each API resource -> its full path."""
    api_resources = of_type(resources, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            props = api_resources[logical_id]["Properties"]
            parent = props["ParentId"]
            prefix = "" if "Fn::GetAtt" in parent else path_of(parent["Ref"])
            paths[logical_id] = f"{prefix}/{props['PathPart']}"
        return paths[logical_id]

    for logical_id in api_resources:
        path_of(logical_id)
    return paths


def _methods(resources: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = _route_paths(resources)
    return {
        (m["Properties"]["HttpMethod"], paths[m["Properties"]["ResourceId"]["Ref"]]): m[
            "Properties"
        ]
        for m in of_type(resources, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] != "OPTIONS"
    }


def test_exactly_the_expected_routes(resources: dict[str, Any]) -> None:
    assert set(_methods(resources)) == {
        ("POST", "/webhooks/opayo/{vendor}"),
        ("POST", "/orders"),
        ("GET", "/orders/{orderId}"),
        ("POST", "/orders/{orderId}/cancel"),
        ("POST", "/orders/{orderId}/refunds"),
        ("POST", "/orders/{orderId}/returns"),
        ("POST", "/orders/{orderId}/resubmit"),
        ("POST", "/orders/{orderId}/3ds-challenge"),
    }


def test_the_challenge_route_validates_its_body_at_the_edge(resources: dict[str, Any]) -> None:
    method = _methods(resources)[("POST", "/orders/{orderId}/3ds-challenge")]
    assert method["AuthorizationType"] == "AWS_IAM"
    assert "Order3dsChallenge" in str(method["Integration"]["Uri"])
    validator = resources[method["RequestValidatorId"]["Ref"]]["Properties"]
    assert validator["ValidateRequestBody"] is True
    model = resources[method["RequestModels"]["application/json"]["Ref"]]["Properties"]
    assert model["Schema"]["required"] == ["cRes", "threeDSSessionData"]
    assert model["Schema"]["additionalProperties"] is False


def test_only_the_webhook_is_open(resources: dict[str, Any]) -> None:
    for (verb, path), method in _methods(resources).items():
        expected = "NONE" if path.startswith("/webhooks/") else "AWS_IAM"
        assert method["AuthorizationType"] == expected, (verb, path)
        assert "RequestValidatorId" in method, (verb, path)


def test_webhook_has_no_api_auth_but_requires_vendor_and_content_type(
    resources: dict[str, Any],
) -> None:
    method = _methods(resources)[("POST", "/webhooks/opayo/{vendor}")]
    assert method["AuthorizationType"] == "NONE"
    assert method["RequestParameters"] == {
        "method.request.path.vendor": True,
        "method.request.header.Content-Type": True,
    }
    validator = resources[method["RequestValidatorId"]["Ref"]]["Properties"]
    assert validator["ValidateRequestParameters"] is True
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert "OpayoWebhook" in str(method["Integration"]["Uri"])


def test_order_routes_use_iam_auth_and_validation(resources: dict[str, Any]) -> None:
    methods = _methods(resources)
    post = methods[("POST", "/orders")]
    get = methods[("GET", "/orders/{orderId}")]
    assert post["AuthorizationType"] == "AWS_IAM"
    assert get["AuthorizationType"] == "AWS_IAM"
    assert resources[post["RequestValidatorId"]["Ref"]]["Properties"]["ValidateRequestBody"]
    model = resources[post["RequestModels"]["application/json"]["Ref"]]["Properties"]
    assert "order" in model["Schema"]["required"]
    order_id = model["Schema"]["properties"]["order"]["properties"]["order_id"]
    # The domain's OrderId (infra/api_models.py; tests/infra/test_api_models.py).
    assert (order_id["pattern"], order_id["maxLength"]) == (r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$", 64)
    assert get["RequestParameters"] == {"method.request.path.orderId": True}
    assert "OrderIntake" in str(post["Integration"]["Uri"])
    assert "OrderStatus" in str(get["Integration"]["Uri"])


def test_stage_is_throttled_logged_and_traced(
    resources: dict[str, Any], config: EnvironmentConfig
) -> None:
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == config.name
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == config.api_throttle_rate_limit
    assert settings["ThrottlingBurstLimit"] == config.api_throttle_burst_limit
    assert settings["LoggingLevel"] == "INFO"
    assert settings["DataTraceEnabled"] is False  # bodies may hold personal data
    log_group = resources[props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert "KmsKeyId" in log_group["Properties"]
    assert '"status":"$context.status"' in props["AccessLogSetting"]["Format"]
    assert "ClientCertificateId" in props


def test_waf_protects_the_stage_and_logs(resources: dict[str, Any]) -> None:
    ((acl_id, acl),) = of_type(resources, "AWS::WAFv2::WebACL").items()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    assert {"RateLimitPerIp", "AWSManagedRulesCommonRuleSet"} <= set(rules)
    assert rules["RateLimitPerIp"]["Action"] == {"Block": {}}
    (association,) = of_type(resources, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    (logging,) = of_type(resources, "AWS::WAFv2::LoggingConfiguration").values()
    assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_cancel_route_needs_iam_and_the_order_id(resources: dict[str, Any]) -> None:
    cancel = _methods(resources)[("POST", "/orders/{orderId}/cancel")]
    assert cancel["AuthorizationType"] == "AWS_IAM"
    assert cancel["RequestParameters"] == {"method.request.path.orderId": True}
    assert "OrderCancel" in str(cancel["Integration"]["Uri"])
