"""The executable contract itself: the packaged models are Amazon's, and validation bites."""

from __future__ import annotations

from pathlib import Path

import pytest

from opayo_fba.amazon import spapi_models
from opayo_fba.amazon.spapi_models import ContractError

PACKAGED = Path(spapi_models.__file__).parent / "official_models"


def test_packaged_models_are_the_reference_copies(shared_sp_api_models: Path) -> None:
    reference = sorted(p.name for p in shared_sp_api_models.iterdir())
    assert reference, "no reference models"
    for name in reference:
        assert (PACKAGED / name).read_bytes() == (shared_sp_api_models / name).read_bytes(), name


def test_operations_are_indexed_across_models() -> None:
    op = spapi_models.operation("createFulfillmentOrder")
    assert (op.method, op.model) == ("POST", "fulfillmentOutbound_2020-07-01")
    assert op.path == "/fba/outbound/2020-07-01/fulfillmentOrders"
    assert spapi_models.operation("getOrders").model == "ordersV0"
    with pytest.raises(KeyError, match="unknown SP-API operationId"):
        spapi_models.operation("chargeTwice")


def _minimal_create_request() -> dict[str, object]:
    return {
        "sellerFulfillmentOrderId": "ORDER-1",
        "displayableOrderId": "ORDER-1",
        "displayableOrderDate": "2026-11-28T10:00:00Z",
        "displayableOrderComment": "Thank you",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {
            "name": "Ada Lovelace",
            "addressLine1": "88 Test Street",
            "city": "London",
            "postalCode": "SW1A 1AA",
            "countryCode": "GB",
            "stateOrRegion": "London",
        },
        "fulfillmentAction": "Hold",
        "items": [{"sellerSku": "SKU-1", "sellerFulfillmentOrderItemId": "1", "quantity": 1}],
    }


def test_a_valid_request_body_passes() -> None:
    spapi_models.validate_request_body("createFulfillmentOrder", _minimal_create_request())


def test_violations_name_the_field() -> None:
    body = _minimal_create_request()
    body["shippingSpeedCategory"] = "Teleport"
    del body["items"]
    with pytest.raises(ContractError) as caught:
        spapi_models.validate_request_body("createFulfillmentOrder", body)
    text = str(caught.value)
    assert "shippingSpeedCategory" in text
    assert "'items' is a required property" in text
    assert len(caught.value.errors) == 2


def test_responses_are_checked_per_status() -> None:
    spapi_models.validate_response(
        "createFulfillmentOrder", 400, {"errors": [{"code": "InvalidInput", "message": "x"}]}
    )
    with pytest.raises(ContractError, match="code"):
        spapi_models.validate_response("createFulfillmentOrder", 400, {"errors": [{"x": 1}]})
    with pytest.raises(ContractError, match="HTTP 418 is not a documented response"):
        spapi_models.validate_response("createFulfillmentOrder", 418, {})


def test_notifications_use_their_own_schemas() -> None:
    with pytest.raises(ContractError):
        spapi_models.validate_notification("ORDER_CHANGE", {"NotificationType": "ORDER_CHANGE"})
    with pytest.raises(KeyError, match="known"):
        spapi_models.validate_notification("ANY_OFFER_CHANGED", {})
