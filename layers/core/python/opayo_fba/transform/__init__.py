"""Status harmonisation, SKU mapping, currency conversion and the converters between the
providers' JSON and the canonical model."""

from opayo_fba.transform.fba_outbound import (
    FbaCreateRequest,
    FulfillmentRequestError,
    create_fulfillment_order_request,
    fulfillment_order_from_fba,
    seller_fulfillment_order_id,
)
from opayo_fba.transform.fx import (
    FxRate,
    FxRateError,
    FxRateMissingError,
    FxRateTable,
    round_to_minor_units,
)
from opayo_fba.transform.harmonise import (
    RULES,
    explain,
    fulfillment_state_from_fba,
    fulfillment_state_from_orders_v0,
    harmonise,
    order_status,
    payment_state_from_pi,
    payment_state_from_server,
    refund_state,
)
from opayo_fba.transform.opayo_pi import (
    PiConversionError,
    PiRequest,
    payment_from_pi,
    pi_instruction_body,
    pi_refund_request,
    pi_transaction_request,
)
from opayo_fba.transform.opayo_server import (
    ServerNotificationError,
    payment_from_server_notification,
)
from opayo_fba.transform.orders_v0 import (
    OrdersV0ConversionError,
    address_from_orders_v0,
    customer_from_buyer_info,
    order_from_orders_v0,
)
from opayo_fba.transform.sku import SkuMapping, SkuMappingError, SkuMappingRow, UnknownSkuError

__all__ = [
    "RULES",
    "FbaCreateRequest",
    "FulfillmentRequestError",
    "FxRate",
    "FxRateError",
    "FxRateMissingError",
    "FxRateTable",
    "OrdersV0ConversionError",
    "PiConversionError",
    "PiRequest",
    "ServerNotificationError",
    "SkuMapping",
    "SkuMappingError",
    "SkuMappingRow",
    "UnknownSkuError",
    "address_from_orders_v0",
    "create_fulfillment_order_request",
    "customer_from_buyer_info",
    "explain",
    "fulfillment_order_from_fba",
    "fulfillment_state_from_fba",
    "fulfillment_state_from_orders_v0",
    "harmonise",
    "order_from_orders_v0",
    "order_status",
    "payment_from_pi",
    "payment_from_server_notification",
    "payment_state_from_pi",
    "payment_state_from_server",
    "pi_instruction_body",
    "pi_refund_request",
    "pi_transaction_request",
    "refund_state",
    "round_to_minor_units",
    "seller_fulfillment_order_id",
]
