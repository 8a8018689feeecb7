"""LWA, access tokens and Restricted Data Tokens."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sp_api.api import Orders, Tokens
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base.exceptions import SellingApiForbiddenException

from sandbox.amazon.auth import TOKEN_LIFETIME_SECONDS
from tests.fixtures.amazon_sandbox import AMAZON_SANDBOX_START, AmazonSandboxHandle

pytestmark = pytest.mark.integration

CREATED_AFTER = (AMAZON_SANDBOX_START - timedelta(days=7)).isoformat()


def _token(sandbox: AmazonSandboxHandle, **form: str) -> httpx.Response:
    return sandbox.control.post("/auth/o2/token", data=form)


def _seller_form(**changes: str) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "Atzr|sandbox-refresh-token",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
    }
    form.update(changes)
    return form


def test_refresh_token_grant_issues_an_hour_long_bearer_token(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    response = _token(amazon_sandbox, **_seller_form())
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"].startswith("Atza|")


def test_client_credentials_grant_for_the_notifications_scope(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    response = _token(
        amazon_sandbox,
        grant_type="client_credentials",
        scope="sellingpartnerapi::notifications",
        client_id="sandbox-client-id",
        client_secret="sandbox-client-secret",
    )
    assert response.status_code == 200
    grantless = response.json()["access_token"]
    # A grantless token cannot read a seller's orders.
    orders = amazon_sandbox.control.get(
        "/orders/v0/orders/026-0000000-0000000", headers={"x-amz-access-token": grantless}
    )
    assert orders.status_code == 403


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_client"),
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"refresh_token": "Atzr|stolen"}, "invalid_grant"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_wrong_client_or_grant_is_400(
    amazon_sandbox: AmazonSandboxHandle, changes: dict[str, str], error: str
) -> None:
    response = _token(amazon_sandbox, **_seller_form(**changes))
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_sp_api_client_surfaces_an_lwa_rejection(amazon_sandbox: AmazonSandboxHandle) -> None:
    orders = amazon_sandbox.sp_api_client(
        Orders,
        credentials={
            "refresh_token": "Atzr|sandbox-refresh-token",
            "lwa_app_id": "sandbox-client-id",
            "lwa_client_secret": "not-the-secret",
        },
    )
    with pytest.raises(AuthorizationError) as raised:
        orders.get_orders(CreatedAfter=CREATED_AFTER)
    assert raised.value.status_code == 400
    assert raised.value.error_code == "invalid_client"


@pytest.mark.parametrize("token", [None, "Atza|forged"])
def test_api_call_without_a_valid_token_is_403_error_list(
    amazon_sandbox: AmazonSandboxHandle, token: str | None
) -> None:
    headers = {"x-amz-access-token": token} if token else {}
    response = amazon_sandbox.control.get(
        "/fba/outbound/2020-07-01/fulfillmentOrders", headers=headers
    )
    assert response.status_code == 403
    (error,) = response.json()["errors"]
    assert error["code"] == "Unauthorized"


def test_token_expires_on_the_sandbox_clock(amazon_sandbox: AmazonSandboxHandle) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    assert orders.get_orders(CreatedAfter=CREATED_AFTER).payload["Orders"]
    amazon_sandbox.advance(TOKEN_LIFETIME_SECONDS - 1, keep_tokens=True)
    assert orders.get_orders(CreatedAfter=CREATED_AFTER).payload["Orders"]
    amazon_sandbox.advance(1, keep_tokens=True)
    with pytest.raises(SellingApiForbiddenException) as raised:
        orders.get_orders(CreatedAfter=CREATED_AFTER)
    assert "expired" in raised.value.error[0]["details"]
    amazon_sandbox.advance(0)  # drops sp_api's cache: the next call fetches a fresh token
    assert orders.get_orders(CreatedAfter=CREATED_AFTER).payload["Orders"]


def test_restricted_data_token_reveals_pii_only_where_it_was_granted(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    listed = orders.get_orders(CreatedAfter=CREATED_AFTER).payload["Orders"]
    order_id = listed[0]["AmazonOrderId"]
    plain = orders.get_order(order_id).payload
    assert "BuyerInfo" not in plain
    assert "Name" not in plain["ShippingAddress"]
    assert plain["ShippingAddress"]["PostalCode"] == "SW1A 1AA"

    revealed = orders.get_order(
        order_id, RestrictedResources=["buyerInfo", "shippingAddress"]
    ).payload
    assert revealed["BuyerInfo"]["BuyerEmail"].endswith("@marketplace.amazon.co.uk")
    assert revealed["ShippingAddress"]["Name"].startswith("Sandbox Buyer")

    tokens = amazon_sandbox.sp_api_client(Tokens)
    rdt = tokens.create_restricted_data_token(
        restrictedResources=[
            {"method": "GET", "path": "/orders/v0/orders/{orderId}", "dataElements": ["buyerInfo"]}
        ]
    ).payload
    assert rdt["expiresIn"] == 3600
    headers = {"x-amz-access-token": rdt["restrictedDataToken"]}
    only_buyer = amazon_sandbox.control.get(f"/orders/v0/orders/{order_id}", headers=headers)
    assert "BuyerInfo" in only_buyer.json()["payload"]
    assert "Name" not in only_buyer.json()["payload"]["ShippingAddress"]
    elsewhere = amazon_sandbox.control.get(
        f"/orders/v0/orders/{order_id}/orderItems", headers=headers
    )
    assert elsewhere.status_code == 403


def test_restricted_data_token_request_is_validated(amazon_sandbox: AmazonSandboxHandle) -> None:
    tokens = amazon_sandbox.sp_api_client(Tokens)
    response = amazon_sandbox.control.post(
        "/tokens/2021-03-01/restrictedDataToken",
        json={"restrictedResources": [{"method": "GET"}]},
        headers={"x-amz-access-token": tokens.auth.access_token},
    )
    assert response.status_code == 400
    assert "path" in response.json()["errors"][0]["message"]


def test_get_orders_with_restricted_resources_through_sp_api(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    listed = orders.get_orders(
        CreatedAfter=CREATED_AFTER, RestrictedResources=["buyerInfo", "shippingAddress"]
    ).payload["Orders"]
    assert all(o["BuyerInfo"]["BuyerEmail"] for o in listed)
    assert all(o["ShippingAddress"]["AddressLine1"] for o in listed)
    # The client drops the RDT after the call: the next call is back to no PII.
    plain = orders.get_orders(CreatedAfter=CREATED_AFTER).payload["Orders"]
    assert all("BuyerInfo" not in o for o in plain)


def test_order_address_and_buyer_info_need_an_rdt_for_pii(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    orders = amazon_sandbox.sp_api_client(Orders)
    order_id = orders.get_orders(CreatedAfter=CREATED_AFTER).payload["Orders"][0]["AmazonOrderId"]
    assert orders.get_order_buyer_info(order_id).payload == {"AmazonOrderId": order_id}
    address = orders.get_order_address(order_id).payload["ShippingAddress"]
    assert "AddressLine1" not in address
    rdt = (
        amazon_sandbox.sp_api_client(Tokens)
        .create_restricted_data_token(
            restrictedResources=[
                {
                    "method": "GET",
                    "path": f"/orders/v0/orders/{order_id}/address",
                    "dataElements": ["shippingAddress"],
                },
                {
                    "method": "GET",
                    "path": f"/orders/v0/orders/{order_id}/buyerInfo",
                    "dataElements": ["buyerInfo"],
                },
            ]
        )
        .payload["restrictedDataToken"]
    )
    with_pii = amazon_sandbox.sp_api_client(Orders, restricted_data_token=rdt)
    assert with_pii.get_order_address(order_id).payload["ShippingAddress"]["AddressLine1"]
    assert with_pii.get_order_buyer_info(order_id).payload["BuyerEmail"]


def test_lwa_endpoint_takes_faults_under_the_name_lwa_token(
    amazon_sandbox: AmazonSandboxHandle,
) -> None:
    amazon_sandbox.set_faults({"rules": [{"operation": "lwaToken", "kind": "unavailable"}]})
    orders = amazon_sandbox.sp_api_client(Orders)
    with pytest.raises(AuthorizationError) as raised:
        orders.get_orders(CreatedAfter=CREATED_AFTER)
    assert raised.value.status_code == 503
    amazon_sandbox.control.delete("/_sandbox/faults").raise_for_status()
    assert orders.get_orders(CreatedAfter=CREATED_AFTER).payload["Orders"]
