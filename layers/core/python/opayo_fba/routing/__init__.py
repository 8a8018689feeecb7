"""Which seller account, marketplace and Opayo vendor an order goes to (routing rules)."""

from opayo_fba.routing.rules import (
    EU_MEMBER_STATES,
    FulfillmentRule,
    PaymentRule,
    Route,
    RoutingRules,
    route_order,
)

__all__ = [
    "EU_MEMBER_STATES",
    "FulfillmentRule",
    "PaymentRule",
    "Route",
    "RoutingRules",
    "route_order",
]
