"""Canonical pydantic models shared by every connector, handler and report.

Everything here is validated on construction, frozen, and round-trips through JSON
(`model_dump_json` / `model_validate_json`) for Step Functions and SQS.

Each name is imported from its submodule when first asked for (PEP 562), so a function that
needs an order id does not build every model at cold start: `from opayo_fba.model import
OrderId` imports `opayo_fba.model.common` alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opayo_fba.model.address import (
        FBA_ADDRESS_LIMITS,
        OPAYO_ADDRESS_LIMITS,
        Address,
        AddressAdjustment,
        AddressLimitError,
        RenderedAddress,
        format_postcode,
        render_fba_address,
        render_opayo_address,
    )
    from opayo_fba.model.common import Asin, Email, OrderId, Sku, UtcDatetime
    from opayo_fba.model.countries import CountryCode, UnknownCountryError, alpha3, country_code
    from opayo_fba.model.fulfillment import (
        FulfillmentAction,
        FulfillmentOrder,
        FulfillmentOrderItem,
        FulfillmentReturn,
        FulfillmentShipment,
        InvalidReturnItem,
        ReturnAuthorization,
        ReturnItem,
        SellerFulfillmentOrderId,
        ShipmentItem,
        ShipmentPackage,
    )
    from opayo_fba.model.money import (
        CURRENCY_CODES,
        CURRENCY_EXPONENTS,
        CurrencyCode,
        CurrencyMismatchError,
        Money,
        MoneyError,
        UnknownCurrencyError,
        currency_exponent,
        sum_money,
    )
    from opayo_fba.model.order import (
        Channel,
        Customer,
        Order,
        OrderLine,
        OrderTotals,
        ShippingSpeed,
    )
    from opayo_fba.model.payment import (
        AvsCv2Result,
        CardSummary,
        PaymentProvider,
        PaymentTransaction,
        Refund,
        RefundKind,
        RefundLine,
        RefundStatus,
        VendorTxCode,
    )
    from opayo_fba.model.status import (
        FbaFulfillmentOrderStatus,
        FbaReturnItemStatus,
        FbaShipmentStatus,
        FulfillmentState,
        OpayoPiStatus,
        OpayoServerStatus,
        OrderStatus,
        OrdersV0Status,
        PaymentState,
        PiInstruction,
        RefundState,
        ReturnReceivedCondition,
        TransactionType,
    )
    from opayo_fba.model.tracking import (
        FINAL_TRACKING_STATUSES,
        PackageTracking,
        PackageTrackingStatus,
        TrackingEvent,
    )

# The names this package exports, by the submodule that defines them.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "address": (
        "FBA_ADDRESS_LIMITS",
        "OPAYO_ADDRESS_LIMITS",
        "Address",
        "AddressAdjustment",
        "AddressLimitError",
        "RenderedAddress",
        "format_postcode",
        "render_fba_address",
        "render_opayo_address",
    ),
    "common": (
        "Asin",
        "Email",
        "OrderId",
        "Sku",
        "UtcDatetime",
    ),
    "countries": (
        "CountryCode",
        "UnknownCountryError",
        "alpha3",
        "country_code",
    ),
    "fulfillment": (
        "FulfillmentAction",
        "FulfillmentOrder",
        "FulfillmentOrderItem",
        "FulfillmentReturn",
        "FulfillmentShipment",
        "InvalidReturnItem",
        "ReturnAuthorization",
        "ReturnItem",
        "SellerFulfillmentOrderId",
        "ShipmentItem",
        "ShipmentPackage",
    ),
    "money": (
        "CURRENCY_CODES",
        "CURRENCY_EXPONENTS",
        "CurrencyCode",
        "CurrencyMismatchError",
        "Money",
        "MoneyError",
        "UnknownCurrencyError",
        "currency_exponent",
        "sum_money",
    ),
    "order": (
        "Channel",
        "Customer",
        "Order",
        "OrderLine",
        "OrderTotals",
        "ShippingSpeed",
    ),
    "payment": (
        "AvsCv2Result",
        "CardSummary",
        "PaymentProvider",
        "PaymentTransaction",
        "Refund",
        "RefundKind",
        "RefundLine",
        "RefundStatus",
        "VendorTxCode",
    ),
    "status": (
        "FbaFulfillmentOrderStatus",
        "FbaReturnItemStatus",
        "FbaShipmentStatus",
        "FulfillmentState",
        "OpayoPiStatus",
        "OpayoServerStatus",
        "OrderStatus",
        "OrdersV0Status",
        "PaymentState",
        "PiInstruction",
        "RefundState",
        "ReturnReceivedCondition",
        "TransactionType",
    ),
    "tracking": (
        "FINAL_TRACKING_STATUSES",
        "PackageTracking",
        "PackageTrackingStatus",
        "TrackingEvent",
    ),
}
_SUBMODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "CURRENCY_CODES",
    "CURRENCY_EXPONENTS",
    "FBA_ADDRESS_LIMITS",
    "FINAL_TRACKING_STATUSES",
    "OPAYO_ADDRESS_LIMITS",
    "Address",
    "AddressAdjustment",
    "AddressLimitError",
    "Asin",
    "AvsCv2Result",
    "CardSummary",
    "Channel",
    "CountryCode",
    "CurrencyCode",
    "CurrencyMismatchError",
    "Customer",
    "Email",
    "FbaFulfillmentOrderStatus",
    "FbaReturnItemStatus",
    "FbaShipmentStatus",
    "FulfillmentAction",
    "FulfillmentOrder",
    "FulfillmentOrderItem",
    "FulfillmentReturn",
    "FulfillmentShipment",
    "FulfillmentState",
    "InvalidReturnItem",
    "Money",
    "MoneyError",
    "OpayoPiStatus",
    "OpayoServerStatus",
    "Order",
    "OrderId",
    "OrderLine",
    "OrderStatus",
    "OrderTotals",
    "OrdersV0Status",
    "PackageTracking",
    "PackageTrackingStatus",
    "PaymentProvider",
    "PaymentState",
    "PaymentTransaction",
    "PiInstruction",
    "Refund",
    "RefundKind",
    "RefundLine",
    "RefundState",
    "RefundStatus",
    "RenderedAddress",
    "ReturnAuthorization",
    "ReturnItem",
    "ReturnReceivedCondition",
    "SellerFulfillmentOrderId",
    "ShipmentItem",
    "ShipmentPackage",
    "ShippingSpeed",
    "Sku",
    "TrackingEvent",
    "TransactionType",
    "UnknownCountryError",
    "UnknownCurrencyError",
    "UtcDatetime",
    "VendorTxCode",
    "alpha3",
    "country_code",
    "currency_exponent",
    "format_postcode",
    "render_fba_address",
    "render_opayo_address",
    "sum_money",
]

if not TYPE_CHECKING:  # mypy reads the imports above; a misspelt name stays an error

    def __getattr__(name: str) -> Any:
        module = _SUBMODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        # The import system's locks make a first use from several threads import it once.
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})
