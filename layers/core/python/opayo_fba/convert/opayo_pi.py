"""Opayo Pi JSON <-> canonical: transaction responses -> `PaymentTransaction`; canonical
orders and refunds -> Pi transaction request bodies.

Limits (Opayo Pi transactions API): vendorTxCode 40, description 100, customerFirstName and
customerLastName 20, customerEmail 80, customerPhone 19, recipientFirstName and
recipientLastName 20; billing and shipping address fields as `OPAYO_ADDRESS_LIMITS`.
The amount is an integer in minor units; Opayo rejects a string.

Card data never passes through here: a Payment or Deferred names the card by the
`merchantSessionKey` and `cardIdentifier` the shopper's browser obtained from Opayo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from opayo_fba.card_numbers import quote_input
from opayo_fba.convert.harmonise import payment_state_from_pi
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.address import (
    Address,
    AddressAdjustment,
    AddressLimitError,
    FieldFitter,
    render_opayo_address,
)
from opayo_fba.model.money import Money
from opayo_fba.model.order import Order
from opayo_fba.model.payment import (
    AvsCv2Result,
    CardSummary,
    PaymentTransaction,
    Refund,
    VendorTxCode,
)
from opayo_fba.model.status import OpayoPiStatus, PiInstruction, TransactionType

DESCRIPTION_MAX = 100
NAME_MAX = 20
EMAIL_MAX = 80
PHONE_MAX = 19

EntryMethod = Literal["Ecommerce", "MailOrder", "TelephoneOrder"]
CheckSetting = Literal["UseMSPSetting", "Force", "Disable", "ForceIgnoringRules"]

_VENDOR_TX_CODE: TypeAdapter[str] = TypeAdapter(VendorTxCode)


class PiConversionError(InvalidInputError, ValueError):
    """A Pi document or request cannot be built or read; the message names the field."""


# -- response -> canonical ---------------------------------------------------------------------


class _PiAmount(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)
    total_amount: int = Field(alias="totalAmount", strict=True)
    surcharge_amount: int | None = Field(default=None, alias="surchargeAmount", strict=True)


class _PiTransaction(BaseModel):
    """The parts of a Pi transaction response we read; Opayo may add fields at any time."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    transaction_id: str | None = Field(default=None, alias="transactionId")
    transaction_type: str = Field(alias="transactionType")
    status: OpayoPiStatus
    status_code: str | None = Field(default=None, alias="statusCode")
    status_detail: str | None = Field(default=None, alias="statusDetail")
    retrieval_reference: int | str | None = Field(default=None, alias="retrievalReference")
    bank_response_code: str | None = Field(default=None, alias="bankResponseCode")
    bank_authorisation_code: str | None = Field(default=None, alias="bankAuthorisationCode")
    amount: _PiAmount | None = None
    currency: str | None = None
    payment_method: dict[str, Any] | None = Field(default=None, alias="paymentMethod")
    avs_cvc_check: dict[str, Any] | None = Field(default=None, alias="avsCvcCheck")
    three_d_secure: dict[str, Any] | None = Field(default=None, alias="3DSecure")


def payment_from_pi(
    response: Mapping[str, Any],
    *,
    vendor_tx_code: str,
    order_id: str | None = None,
    instruction: PiInstruction | None = None,
    expected_amount: Money | None = None,
) -> PaymentTransaction:
    """Canonical PaymentTransaction from a Pi transaction response (POST or GET).

    Pi responses do not echo the vendorTxCode, so the caller passes the one it sent.
    `expected_amount` fills in the amount when Opayo omits it (some declines do).
    """
    try:
        parsed = _PiTransaction.model_validate(response)
    except ValidationError as error:
        raise PiConversionError(f"Pi transaction response: {error}") from error
    try:
        transaction_type = TransactionType.parse(parsed.transaction_type)
    except ValueError as error:
        raise PiConversionError(f"transactionType: {error}") from error
    if parsed.amount is not None:
        if not parsed.currency:
            raise PiConversionError("currency is missing from a response that has an amount")
        amount = Money(amount=parsed.amount.total_amount, currency=parsed.currency)
    elif expected_amount is not None:
        amount = expected_amount
    else:
        raise PiConversionError("amount is missing; pass expected_amount for this response")
    surcharge = None
    if parsed.amount is not None and parsed.amount.surcharge_amount:
        surcharge = Money(amount=parsed.amount.surcharge_amount, currency=amount.currency)
    card = (parsed.payment_method or {}).get("card") or {}
    avs = parsed.avs_cvc_check
    return PaymentTransaction(
        provider="pi",
        vendor_tx_code=vendor_tx_code,
        transaction_id=parsed.transaction_id,
        transaction_type=transaction_type,
        status=parsed.status.value,
        state=payment_state_from_pi(parsed.status, transaction_type, instruction),
        status_code=parsed.status_code,
        status_detail=parsed.status_detail,
        instruction=instruction,
        amount=amount,
        surcharge=surcharge,
        auth_code=parsed.bank_authorisation_code,
        bank_response_code=parsed.bank_response_code,
        retrieval_reference=None
        if parsed.retrieval_reference is None
        else str(parsed.retrieval_reference),
        avs_cv2=None
        if avs is None
        else AvsCv2Result(
            summary=avs.get("status"),
            address=avs.get("address"),
            postal_code=avs.get("postalCode"),
            security_code=avs.get("securityCode"),
        ),
        three_d_secure_status=(parsed.three_d_secure or {}).get("status"),
        card=None
        if not card
        else CardSummary(
            card_type=card.get("cardType"),
            last_four_digits=card.get("lastFourDigits"),
            expiry_date=card.get("expiryDate"),
        ),
        order_id=order_id,
    )


# -- canonical -> request ----------------------------------------------------------------------


class PiRequest(BaseModel):
    """A Pi request body and every change made to fit Opayo's limits."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    body: dict[str, JsonValue]
    adjustments: tuple[AddressAdjustment, ...] = ()


class _Limits(FieldFitter):
    def refuse(self, field: str, value: str, limit: int) -> NoReturn:
        raise PiConversionError(
            f"{field}: {len(value)} characters exceed Opayo's limit of {limit}; shorten "
            "it or build the request with allow_truncation=True"
        )


def _vendor_tx_code(value: str) -> str:
    try:
        return _VENDOR_TX_CODE.validate_python(value)
    except ValidationError:
        raise PiConversionError(
            f"vendorTxCode {quote_input(value)} must be 1-40 of A-Z a-z 0-9 {{ }} . _ -"
        ) from None


def _split_name(full_name: str | None) -> tuple[str | None, str | None]:
    if not full_name:
        return None, None
    first, _, last = full_name.rpartition(" ")
    return (first or None), last


def _customer_names(order: Order) -> tuple[str, str]:
    customer = order.customer
    first = customer.first_name if customer else None
    last = customer.last_name if customer else None
    if not (first and last):
        billing = order.billing_address or order.shipping_address
        name_first, name_last = _split_name(billing.name if billing else None)
        first, last = first or name_first, last or name_last
    if not first or not last:
        raise PiConversionError(
            "customer.first_name and customer.last_name are required by Opayo "
            "(or a billing address name with both parts)"
        )
    return first, last


def _shipping_details(address: Address, limits: _Limits) -> dict[str, JsonValue]:
    first, last = _split_name(address.name)
    if not first or not last:
        raise PiConversionError(
            "shipping_address.name needs a first and last name for Opayo's shippingDetails"
        )
    try:
        rendered = render_opayo_address(address, allow_truncation=limits.allow_truncation)
    except AddressLimitError as error:
        raise PiConversionError(f"shipping_address.{error}") from error
    limits.adjustments.extend(
        adjustment.model_copy(update={"field": f"shipping.{adjustment.field}"})
        for adjustment in rendered.adjustments
    )
    names = {
        "address1": "shippingAddress1",
        "address2": "shippingAddress2",
        "city": "shippingCity",
        "postalCode": "shippingPostalCode",
        "country": "shippingCountry",
        "state": "shippingState",
    }
    details: dict[str, JsonValue] = {
        "recipientFirstName": limits.fit("recipientFirstName", first, NAME_MAX),
        "recipientLastName": limits.fit("recipientLastName", last, NAME_MAX),
    }
    details.update({names[key]: value for key, value in rendered.fields.items()})
    return details


def pi_transaction_request(
    order: Order,
    *,
    vendor_tx_code: str,
    transaction_type: Literal["Payment", "Deferred", "Repeat"] = "Deferred",
    merchant_session_key: str | None = None,
    card_identifier: str | None = None,
    reference_transaction_id: str | None = None,
    description: str | None = None,
    entry_method: EntryMethod = "Ecommerce",
    apply_3d_secure: CheckSetting = "UseMSPSetting",
    apply_avs_cvc_check: CheckSetting = "UseMSPSetting",
    include_shipping: bool = True,
    allow_truncation: bool = False,
) -> PiRequest:
    """The `POST /transactions` body that charges `order.amount_due()`.

    Payment and Deferred need `merchant_session_key` and `card_identifier`; Repeat needs
    `reference_transaction_id`. The billing address is the order's billing address, else
    its shipping address. Every field is checked against Opayo's limits; with
    `allow_truncation=True` over-long text is cut and each cut reported in `adjustments`.
    """
    limits = _Limits(allow_truncation)
    amount = order.amount_due()
    if amount.amount <= 0:
        raise PiConversionError(f"amount must be positive to take a payment, got {amount}")
    body: dict[str, JsonValue] = {
        "transactionType": transaction_type,
        "vendorTxCode": _vendor_tx_code(vendor_tx_code),
        "amount": amount.amount,
        "currency": amount.currency,
        "description": limits.fit(
            "description", description or f"Order {order.order_id}", DESCRIPTION_MAX
        ),
    }
    if transaction_type == "Repeat":
        if not reference_transaction_id:
            raise PiConversionError("reference_transaction_id is required for a Repeat")
        body["referenceTransactionId"] = reference_transaction_id
    else:
        if not merchant_session_key or not card_identifier:
            raise PiConversionError(
                f"merchant_session_key and card_identifier are required for a {transaction_type}"
            )
        body["paymentMethod"] = {
            "card": {"merchantSessionKey": merchant_session_key, "cardIdentifier": card_identifier}
        }
        body["entryMethod"] = entry_method
        body["apply3DSecure"] = apply_3d_secure
        body["applyAvsCvcCheck"] = apply_avs_cvc_check
    first, last = _customer_names(order)
    body["customerFirstName"] = limits.fit("customerFirstName", first, NAME_MAX)
    body["customerLastName"] = limits.fit("customerLastName", last, NAME_MAX)
    if order.customer and order.customer.email:
        body["customerEmail"] = limits.fit("customerEmail", order.customer.email, EMAIL_MAX)
    if order.customer and order.customer.phone:
        body["customerPhone"] = limits.fit("customerPhone", order.customer.phone, PHONE_MAX)
    billing = order.billing_address or order.shipping_address
    if billing is None:
        raise PiConversionError("billing_address is required (or a shipping_address)")
    try:
        rendered = render_opayo_address(billing, allow_truncation=allow_truncation)
    except AddressLimitError as error:
        raise PiConversionError(f"billingAddress.{error}") from error
    limits.adjustments.extend(rendered.adjustments)
    body["billingAddress"] = dict(rendered.fields)
    if include_shipping and order.shipping_address is not None and transaction_type != "Repeat":
        body["shippingDetails"] = _shipping_details(order.shipping_address, limits)
    return PiRequest(body=body, adjustments=tuple(limits.adjustments))


def pi_refund_request(refund: Refund, *, description: str | None = None) -> PiRequest:
    """The `POST /transactions` body of a Refund of `refund.amount` against the payment."""
    limits = _Limits(allow_truncation=False)
    text = description or refund.reason or f"Refund for order {refund.order_id}"
    return PiRequest(
        body={
            "transactionType": "Refund",
            "referenceTransactionId": refund.reference_transaction_id,
            "vendorTxCode": _vendor_tx_code(refund.vendor_tx_code),
            "amount": refund.amount.amount,
            "description": limits.fit("description", text, DESCRIPTION_MAX),
        }
    )


def pi_instruction_body(instruction: PiInstruction, amount: Money | None = None) -> dict[str, Any]:
    """The body of `POST /transactions/{id}/instructions`; only release takes an amount."""
    if amount is not None and instruction is not PiInstruction.RELEASE:
        raise PiConversionError(f"amount applies to a release, not to {instruction.value}")
    body: dict[str, Any] = {"instructionType": instruction.value}
    if amount is not None:
        if amount.amount <= 0:
            raise PiConversionError(f"amount to release must be positive, got {amount}")
        body["amount"] = amount.amount
    return body
