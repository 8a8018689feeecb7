"""The one stack: it composes a construct per capability and adds nothing of its own."""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment, Fn, Stack, Tags
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constants import SERVICE_NAME, STACK_ID_PREFIX
from infra.egress import FixedEgress
from infra.events_bus import EventsBus
from infra.functions import FunctionFactory, SharedLayers
from infra.keys import EncryptionKeys
from infra.monitoring import MonitoredResources, Monitoring
from infra.platform import Platform
from infra.queues import Queues
from infra.recovery import SagaRecovery
from infra.saga import Saga
from infra.schedules import Schedules
from infra.secrets import Secrets
from infra.storage import Storage
from infra.webhook_api import WebhookApi

# Functions that call SP-API (they publish the SpApiThrottled metric).
SP_API_CALLERS = (
    "saga_create_fulfillment_order",
    "saga_release_fulfillment_order",
    "saga_check_fulfillment_status",
    "saga_cancel_fulfillment_order",
    "saga_mark_shipped",
    "saga_recovery",
    "order_cancel",
    "order_return",
    "order_resubmit",
    "orders_poller",
    "after_sale_tracker",
    "inventory_poller",
    "amazon_notifications",
    "report_scheduler",
    "report_poller",
)


def availability_zones() -> list[str]:
    """The region's first two AZs, resolved by CloudFormation (`Fn::GetAZs`) at deploy time:
    no availability-zones lookup at synthesis (which needs an AWS account) and no hard-coded
    zone names."""
    return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]


def stack_id(config: EnvironmentConfig) -> str:
    return f"{STACK_ID_PREFIX}-{config.name}"


class OpayoFbaStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=config.account, region=config.region),
            description=f"{SERVICE_NAME} ({config.name}): Opayo payments and Amazon FBA MCF",
            **kwargs,
        )
        self._availability_zones = availability_zones()
        Tags.of(self).add("service", SERVICE_NAME)
        Tags.of(self).add("environment", config.name)

        keys = EncryptionKeys(self, "Keys")
        self.egress = FixedEgress(self, "Egress", config=config, logs_key=keys.logs)
        platform = Platform(
            config=config,
            keys=keys,
            factory=FunctionFactory(
                config=config,
                layers=SharedLayers(self, "Layers"),
                logs_key=keys.logs,
                egress=self.egress,
            ),
            storage=Storage(self, "Storage", data_key=keys.data),
            secrets=Secrets(self, "Secrets", config=config),
            events=EventsBus(self, "Events", config=config, data_key=keys.data),
        )
        self.platform = platform
        self.saga = Saga(self, "Saga", platform=platform)
        machine = self.saga.state_machine
        self.queues = Queues(self, "Queues", platform=platform, state_machine=machine)
        self.api = WebhookApi(
            self,
            "Api",
            platform=platform,
            payment_events=self.queues.payment_events,
            state_machine=machine,
        )
        self.schedules = Schedules(self, "Schedules", platform=platform, state_machine=machine)
        self.recovery = SagaRecovery(self, "Recovery", platform=platform, state_machine=machine)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            resources=MonitoredResources(
                api=self.api.api,
                work_queues={
                    "PaymentEvents": self.queues.payment_events,
                    "AmazonNotifications": self.queues.amazon_notifications,
                },
                dead_letter_queues={
                    "PaymentEvents": self.queues.payment_events_dlq,
                    "AmazonNotifications": self.queues.amazon_notifications_dlq,
                    "Schedules": self.schedules.dlq,
                    "Recovery": self.recovery.dlq,
                },
                state_machine=machine,
                functions=platform.factory.functions,
                sp_api_callers=SP_API_CALLERS,
            ),
        )

    @property
    def availability_zones(self) -> list[str]:
        """Resolved at deploy, not looked up (see `availability_zones`): offline synthesis."""
        return self._availability_zones
