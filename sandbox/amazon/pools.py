"""Stock pools: which marketplaces' orders a unit of FBA stock can fill.

Since Brexit the UK and the EU are separate fulfilment networks. Inventory in Amazon's EU
fulfilment centres is one pool for all the EU stores the seller sells in (Pan-European FBA
"is treated as a single inventory pool that is sellable in all Amazon Europe stores",
Seller Central help 201855460 "Pan-European FBA: How it Works"), and UK stock fills UK orders
only: fulfilment between the UK and the EU runs only through the European Fulfilment Network
with its own fees, for offers a seller enrols in it (Seller Central help JWD8NWLKSZ5N3JR
"European Fulfillment Network between the UK and the EU"). The sandbox's sellers are not
enrolled, so a pool fills only its own marketplaces' orders. A marketplace outside Europe is
a pool of its own (our assumption; the sandbox serves the EU region).
"""

from __future__ import annotations

from collections.abc import Iterable

UK_MARKETPLACE = "A1F83G8C2ARO7P"
# Amazon's European Union stores (marketplace ids from Amazon's "Marketplace IDs" page).
EU_MARKETPLACES = {
    "A1PA6795UKMFR9": "DE",
    "A13V1IB3VIYZZH": "FR",
    "APJ6JRA9NG5V4": "IT",
    "A1RKKUPIHCS9HS": "ES",
    "A1805IZSGTT6HS": "NL",
    "A2NODRKZP88ZB9": "SE",
    "A1C3SOZRARQ6R3": "PL",
    "AMEN7PMS3EDWL": "BE",
}
UK_POOL = "UK"
EU_POOL = "EU"


def pool_of(marketplace_id: str) -> str:
    """The stock pool a marketplace's orders are filled from."""
    if marketplace_id == UK_MARKETPLACE:
        return UK_POOL
    if marketplace_id in EU_MARKETPLACES:
        return EU_POOL
    return marketplace_id


def marketplaces_in(pool: str, enabled: Iterable[str]) -> list[str]:
    """The enabled marketplaces a pool's stock is sold in, in the seller's order."""
    return [m for m in enabled if pool_of(m) == pool]


def inventory_key(pool: str, sku: str) -> str:
    return f"{pool}:{sku}"
