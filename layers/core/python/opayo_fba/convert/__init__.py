"""Status harmonisation, SKU mapping, currency conversion and the converters between the
providers' JSON and the canonical model.

Names are re-exported lazily (PEP 562): importing one submodule, e.g.
`opayo_fba.convert.harmonise`, does not import the others, which keeps Lambda cold starts
short.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opayo_fba.convert.fba_outbound import (
        FbaCreateRequest,
        FulfillmentRequestError,
        create_fulfillment_order_request,
        fulfillment_order_from_fba,
        seller_fulfillment_order_id,
    )
    from opayo_fba.convert.fx import (
        FxRate,
        FxRateError,
        FxRateMissingError,
        FxRateTable,
        round_to_minor_units,
    )
    from opayo_fba.convert.harmonise import (
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
    from opayo_fba.convert.opayo_pi import (
        PiConversionError,
        PiRequest,
        payment_from_pi,
        pi_instruction_body,
        pi_refund_request,
        pi_transaction_request,
    )
    from opayo_fba.convert.opayo_server import (
        ServerNotificationError,
        payment_from_server_notification,
    )
    from opayo_fba.convert.orders_v0 import (
        OrdersV0ConversionError,
        address_from_orders_v0,
        customer_from_buyer_info,
        order_from_orders_v0,
    )
    from opayo_fba.convert.sku import SkuMapping, SkuMappingError, SkuMappingRow, UnknownSkuError

_EXPORTS: dict[str, str] = {
    "FbaCreateRequest": "opayo_fba.convert.fba_outbound",
    "FulfillmentRequestError": "opayo_fba.convert.fba_outbound",
    "FxRate": "opayo_fba.convert.fx",
    "FxRateError": "opayo_fba.convert.fx",
    "FxRateMissingError": "opayo_fba.convert.fx",
    "FxRateTable": "opayo_fba.convert.fx",
    "OrdersV0ConversionError": "opayo_fba.convert.orders_v0",
    "PiConversionError": "opayo_fba.convert.opayo_pi",
    "PiRequest": "opayo_fba.convert.opayo_pi",
    "RULES": "opayo_fba.convert.harmonise",
    "ServerNotificationError": "opayo_fba.convert.opayo_server",
    "SkuMapping": "opayo_fba.convert.sku",
    "SkuMappingError": "opayo_fba.convert.sku",
    "SkuMappingRow": "opayo_fba.convert.sku",
    "UnknownSkuError": "opayo_fba.convert.sku",
    "address_from_orders_v0": "opayo_fba.convert.orders_v0",
    "create_fulfillment_order_request": "opayo_fba.convert.fba_outbound",
    "customer_from_buyer_info": "opayo_fba.convert.orders_v0",
    "explain": "opayo_fba.convert.harmonise",
    "fulfillment_order_from_fba": "opayo_fba.convert.fba_outbound",
    "fulfillment_state_from_fba": "opayo_fba.convert.harmonise",
    "fulfillment_state_from_orders_v0": "opayo_fba.convert.harmonise",
    "harmonise": "opayo_fba.convert.harmonise",
    "order_from_orders_v0": "opayo_fba.convert.orders_v0",
    "order_status": "opayo_fba.convert.harmonise",
    "payment_from_pi": "opayo_fba.convert.opayo_pi",
    "payment_from_server_notification": "opayo_fba.convert.opayo_server",
    "payment_state_from_pi": "opayo_fba.convert.harmonise",
    "payment_state_from_server": "opayo_fba.convert.harmonise",
    "pi_instruction_body": "opayo_fba.convert.opayo_pi",
    "pi_refund_request": "opayo_fba.convert.opayo_pi",
    "pi_transaction_request": "opayo_fba.convert.opayo_pi",
    "refund_state": "opayo_fba.convert.harmonise",
    "round_to_minor_units": "opayo_fba.convert.fx",
    "seller_fulfillment_order_id": "opayo_fba.convert.fba_outbound",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
