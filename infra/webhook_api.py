"""The REST API: Opayo's signed notifications and the shop's / ERP's order endpoints.

- `POST /webhooks/opayo/{vendor}`: form-urlencoded, no API authorization (Opayo cannot sign
  AWS requests); the handler verifies the VPSSignature before anything else happens.
- `POST /orders`, `GET /orders/{orderId}`, `POST /orders/{orderId}/cancel`,
  `POST /orders/{orderId}/3ds-challenge`: AWS IAM authorization (SigV4), so the shop or ERP
  calls with credentials of a role the merchant grants `execute-api:Invoke`.

Requests are validated at the edge (required path parameters, headers, and the JSON body
models generated from docs/openapi.json: infra/api_models.py),
the stage is throttled, access-logged (JSON, KMS-encrypted log group) and traced, and a WAF
web ACL with AWS managed rule sets and a per-IP rate limit sits in front.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.api_models import request_model
from infra.config import EnvironmentConfig
from infra.constants import (
    ENV_OPAYO_REDIRECT_URL,
    ENV_OPAYO_VENDORS,
    ENV_PAYMENT_EVENTS_QUEUE_URL,
    ENV_ROUTING_RULES,
    ENV_SECURITY_KEYS_KEY_ARN,
    ENV_SELLER_MARKETPLACES,
    ENV_STATE_MACHINE_ARN,
    OPAYO_WEBHOOK,
    ORDER_3DS_CHALLENGE,
    ORDER_CANCEL,
    ORDER_INTAKE,
    ORDER_REFUND,
    ORDER_RESUBMIT,
    ORDER_RETURN,
    ORDER_STATUS,
    SERVICE_NAME,
)
from infra.functions import log_retention
from infra.platform import Platform

WAF_RATE_LIMIT_PER_5_MIN = 2000
# The shape API Gateway checks before a Lambda runs, generated from docs/openapi.json (the
# routes' pydantic models): infra/api_models.py says which fields the edge checks.
ORDER_REQUEST_SCHEMA = request_model("submitOrder", "CreateOrderRequest")
CHALLENGE_REQUEST_SCHEMA = request_model("completeChallenge", "CompleteChallengeRequest")
REFUND_REQUEST_SCHEMA = request_model("refundOrder", "RefundOrderRequest")
RETURN_REQUEST_SCHEMA = request_model("returnOrder", "ReturnOrderRequest")
RESUBMIT_REQUEST_SCHEMA = request_model("resubmitOrder", "ResubmitOrderRequest")


class WebhookApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: Platform,
        payment_events: sqs.IQueue,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        config = platform.config
        self._logs_key = platform.keys.logs
        opayo_webhook, order_intake, order_status, order_cancel = self._build_functions(
            platform, payment_events, state_machine
        )
        order_challenge = self._build_challenge_function(platform, state_machine)
        order_refund = self._build_refund_function(platform)
        # Asks Amazon for reason codes and the return authorization (within the shared rate
        # limit), records the return on the order and tells the ERP.
        order_return = platform.function(
            self,
            ORDER_RETURN,
            orders="write",
            seller_secrets=True,
            connector_state=True,
            events_bus=True,
        )
        # Asks Opayo where the money is (Pi's API: no fixed egress needed, and a Server payment
        # is refused before anything is asked), Amazon whether it can fulfil it now (within
        # the shared rate limit), records the attempt and starts its saga execution.
        order_resubmit = platform.function(
            self,
            ORDER_RESUBMIT,
            orders="write",
            vendor_secrets=True,
            seller_secrets=True,
            connector_state=True,
            events_bus=True,
            extra_environment={ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn},
        )
        state_machine.grant_start_execution(order_resubmit)
        self.access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            encryption_key=self._logs_key,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.api = self._build_rest_api(config)
        self._build_webhook_route(opayo_webhook)
        self._build_order_routes(order_intake, order_status, order_cancel)
        self._build_challenge_route(order_challenge)
        self._build_body_route("refunds", order_refund, "RefundOrder", REFUND_REQUEST_SCHEMA)
        self._build_body_route("returns", order_return, "ReturnOrder", RETURN_REQUEST_SCHEMA)
        self._build_body_route("resubmit", order_resubmit, "ResubmitOrder", RESUBMIT_REQUEST_SCHEMA)
        self.web_acl = self._build_web_acl(config)

    def _build_functions(
        self, platform: Platform, payment_events: sqs.IQueue, state_machine: sfn.IStateMachine
    ) -> tuple[lambda_.Function, lambda_.Function, lambda_.Function, lambda_.Function]:
        vendors = ",".join(vendor.name for vendor in platform.config.opayo_vendors)
        security_keys = platform.keys.server_security_keys
        webhook = platform.function(
            self,
            OPAYO_WEBHOOK,
            # Reads the SecurityKey stored when the transaction was registered.
            orders="read",
            extra_environment={
                ENV_PAYMENT_EVENTS_QUEUE_URL: payment_events.queue_url,
                ENV_OPAYO_VENDORS: vendors,
                ENV_OPAYO_REDIRECT_URL: platform.config.opayo_redirect_url,
                ENV_SECURITY_KEYS_KEY_ARN: security_keys.key_arn,
            },
        )
        payment_events.grant_send_messages(webhook)
        # The SecurityKey is sealed per order: the webhook may open it, nothing else may.
        security_keys.grant_decrypt(webhook)
        intake = platform.function(
            self,
            ORDER_INTAKE,
            orders="write",
            # Reads Pi transactions and creates Deferred ones from card identifiers.
            vendor_secrets=True,
            extra_environment={
                **(
                    {ENV_ROUTING_RULES: routing}
                    if (routing := platform.config.routing_json())
                    else {}
                ),
                ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn,
                ENV_SECURITY_KEYS_KEY_ARN: security_keys.key_arn,
                # Names only: an order for any other seller account or marketplace is a 400.
                ENV_SELLER_MARKETPLACES: json.dumps(
                    {
                        seller.id: list(seller.marketplace_ids)
                        for seller in platform.config.seller_accounts
                    },
                    separators=(",", ":"),
                ),
            },
        )
        state_machine.grant_start_execution(intake)
        security_keys.grant_encrypt(intake)
        status = platform.function(self, ORDER_STATUS, orders="read")
        # Asks Amazon (getFulfillmentOrder, within the shared rate limit) whether the order
        # can still be cancelled before accepting a cancellation.
        cancel = platform.function(
            self, ORDER_CANCEL, orders="write", seller_secrets=True, connector_state=True
        )
        # A cancellation resumes a saga waiting on Amazon, so it acts at once.
        state_machine.grant_task_response(cancel)
        return webhook, intake, status, cancel

    def _build_challenge_function(
        self, platform: Platform, state_machine: sfn.IStateMachine
    ) -> lambda_.Function:
        # Reads and updates the order, sends the cRes to Opayo Pi (vendor secrets), starts the
        # saga once the payment is decided. No KMS key: card orders have no SecurityKey.
        challenge = platform.function(
            self,
            ORDER_3DS_CHALLENGE,
            orders="write",
            vendor_secrets=True,
            extra_environment={ENV_STATE_MACHINE_ARN: state_machine.state_machine_arn},
        )
        state_machine.grant_start_execution(challenge)
        return challenge

    def _build_refund_function(self, platform: Platform) -> lambda_.Function:
        # Refunds at Opayo (Pi, or the Shared Protocol's refund.vsp for a Server payment,
        # which quotes the SecurityKey: it may decrypt it) from the fixed egress address, and
        # records the refund on the order and on the bus.
        security_keys = platform.keys.server_security_keys
        refund = platform.function(
            self,
            ORDER_REFUND,
            orders="write",
            vendor_secrets=True,
            events_bus=True,
            extra_environment={ENV_SECURITY_KEYS_KEY_ARN: security_keys.key_arn},
        )
        security_keys.grant_decrypt(refund)
        return refund

    def _build_body_route(
        self, path: str, handler: lambda_.IFunction, name: str, schema: apigw.JsonSchema
    ) -> None:
        """`POST /orders/{orderId}/<path>` with its body model checked at the edge."""
        validator = self.api.add_request_validator(
            f"{name}BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        model = self.api.add_model(f"{name}Model", content_type="application/json", schema=schema)
        orders = self.api.root.get_resource("orders")
        assert orders is not None
        order = orders.get_resource("{orderId}")
        assert order is not None
        order.add_resource(path).add_method(
            "POST",
            apigw.LambdaIntegration(handler),
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=validator,
            request_models={"application/json": model},
            request_parameters={"method.request.path.orderId": True},
        )

    def _build_rest_api(self, config: EnvironmentConfig) -> apigw.RestApi:
        client_certificate = apigw.CfnClientCertificate(
            self, "BackendClientCertificate", description="Presented to integrations"
        )
        return apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{SERVICE_NAME}-{config.name}",
            description="Opayo notifications and order intake",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=config.name,
                throttling_rate_limit=config.api_throttle_rate_limit,
                throttling_burst_limit=config.api_throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.INFO,
                # Bodies may hold personal data: never log them.
                data_trace_enabled=False,
                client_certificate_id=client_certificate.attr_client_certificate_id,
            ),
        )

    def _build_webhook_route(self, handler: lambda_.IFunction) -> None:
        validator = self.api.add_request_validator(
            "WebhookValidator", validate_request_parameters=True, validate_request_body=False
        )
        vendor = (
            self.api.root.add_resource("webhooks").add_resource("opayo").add_resource("{vendor}")
        )
        self.webhook_method = vendor.add_method(
            "POST",
            apigw.LambdaIntegration(handler),
            authorization_type=apigw.AuthorizationType.NONE,
            request_validator=validator,
            request_parameters={
                "method.request.path.vendor": True,
                "method.request.header.Content-Type": True,
            },
        )

    def _build_order_routes(
        self, intake: lambda_.IFunction, status: lambda_.IFunction, cancel: lambda_.IFunction
    ) -> None:
        body_validator = self.api.add_request_validator(
            "OrderBodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        params_validator = self.api.add_request_validator(
            "OrderParamsValidator", validate_request_parameters=True
        )
        order_model = self.api.add_model(
            "CreateOrderModel", content_type="application/json", schema=ORDER_REQUEST_SCHEMA
        )
        orders = self.api.root.add_resource("orders")
        orders.add_method(
            "POST",
            apigw.LambdaIntegration(intake),
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=body_validator,
            request_models={"application/json": order_model},
        )
        order = orders.add_resource("{orderId}")
        order.add_method(
            "GET",
            apigw.LambdaIntegration(status),
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=params_validator,
            request_parameters={"method.request.path.orderId": True},
        )
        order.add_resource("cancel").add_method(
            "POST",
            apigw.LambdaIntegration(cancel),
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=params_validator,
            request_parameters={"method.request.path.orderId": True},
        )

    def _build_challenge_route(self, handler: lambda_.IFunction) -> None:
        validator = self.api.add_request_validator(
            "ChallengeBodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        model = self.api.add_model(
            "CompleteChallengeModel",
            content_type="application/json",
            schema=CHALLENGE_REQUEST_SCHEMA,
        )
        order = self.api.root.get_resource("orders")
        assert order is not None
        resource = order.get_resource("{orderId}")
        assert resource is not None
        resource.add_resource("3ds-challenge").add_method(
            "POST",
            apigw.LambdaIntegration(handler),
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=validator,
            request_models={"application/json": model},
            request_parameters={"method.request.path.orderId": True},
        )

    def _build_web_acl(self, config: EnvironmentConfig) -> wafv2.CfnWebACL:
        def managed(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                visibility_config=_visibility(name),
            )

        rate_limit = wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp",
            priority=0,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=WAF_RATE_LIMIT_PER_5_MIN, aggregate_key_type="IP"
                )
            ),
            visibility_config=_visibility("RateLimitPerIp"),
        )
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{SERVICE_NAME}-{config.name}-api"),
            rules=[
                rate_limit,
                managed("AWSManagedRulesCommonRuleSet", 1),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 2),
            ],
        )
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            # WAF only delivers to log groups whose name starts with aws-waf-logs-.
            log_group_name=f"aws-waf-logs-{SERVICE_NAME}-{config.name}",
            encryption_key=self._logs_key,
            retention=log_retention(config.log_retention_days),
            removal_policy=RemovalPolicy.RETAIN,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WebAclLogging",
            resource_arn=acl.attr_arn,
            # WAF wants the log group ARN without the ":*" suffix CDK's log_group_arn carries.
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_logs.log_group_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=True,
    )
