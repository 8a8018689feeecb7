"""An order as Amazon's createFulfillmentOrder body: our converter, then the merchant's templates.

Templates read the order as the shop sent it (`source`), or the canonical order when the shop
sent none; their output is validated against Amazon's model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opayo_fba.convert.fba_outbound import FulfillmentPolicy, create_fulfillment_order_request
from opayo_fba.mapping.canonical import extend_order_lines
from opayo_fba.mapping.engine import apply_templates
from opayo_fba.mapping.product_master import ProductMaster
from opayo_fba.mapping.template import MappingTemplate
from opayo_fba.model.order import Order


@dataclass(frozen=True)
class MappedOrder:
    """What the validate-and-map step produces from an order and the merchant's templates."""

    fulfillment_request: dict[str, Any]
    order: Order  # lines extended with the product master's and templates' attributes
    payment_metadata: dict[str, Any]


def map_order(
    order: Order,
    source: Mapping[str, Any] | None,
    *,
    fulfillment_policy: FulfillmentPolicy,
    templates: Sequence[MappingTemplate],
    product_master: ProductMaster | None = None,
) -> MappedOrder:
    """The createFulfillmentOrder body for `order`, the merchant's `templates` applied over it."""
    body: dict[str, Any] = dict(
        create_fulfillment_order_request(order, fulfillment_policy=fulfillment_policy).body
    )
    if not templates:
        return MappedOrder(body, order, {})
    shop_order = source or order.model_dump(mode="json")
    result = apply_templates(templates, shop_order, product_master=product_master)
    merged: dict[str, Any] = result.apply_to_fulfillment_request(body)
    return MappedOrder(merged, extend_order_lines(order, result), dict(result.payment_metadata))
