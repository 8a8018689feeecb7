"""`POST /orders`: a canonical order with its payment reference, validated at the edge.

Three ways to say how the order is paid:
- `pi_transaction`: an Opayo Pi transaction the shop already created (we read its state): a
  Deferred, which the saga releases, or a Payment, already captured when it was authorised;
- `pi_card`: a merchant session key and card identifier from the shopper's browser, with the
  browser's `strongCustomerAuthentication` data (we create the Deferred transaction, with a
  vendorTxCode derived from the order id, so a repeated POST can never authorise twice; when
  Opayo asks for a 3-D Secure challenge the order waits for it: intake/three_d_secure.py);
- `server`: a transaction registered through Opayo Server (its VPSTxId, SecurityKey and the
  TxType the shop registered: DEFERRED, the default, or PAYMENT; the signed notification
  tells us the outcome later).
The order is stored, joined with a payment update that arrived first, and the saga starts as
soon as the payment is decided. Submitting the same order again returns it unchanged; another
order under the same id is refused.

Before any of that the request is bounded (MAX_ORDER_REQUEST_BYTES, MAX_ORDER_REQUEST_DEPTH),
screened for card numbers in every decoded value, validated, and its vendor, seller account
and marketplace checked against the deployment's configuration (`KnownAccounts`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from opayo_fba.card_numbers import (
    contains_card_number,
    find_card_number,
    looks_like_card_number,
    luhn_valid,
    quote_input,
)
from opayo_fba.convert.opayo_pi import payment_from_pi, pi_transaction_request
from opayo_fba.errors import (
    CardPaymentAbandoned,
    ConflictError,
    InvalidInputError,
    PayloadTooLargeError,
)
from opayo_fba.http_input import CARD_NUMBER_REFUSED, refuse_deep_json
from opayo_fba.intake.payments import (
    Starter,
    registered_facts,
    start_if_decided,
    supersedes,
)
from opayo_fba.intake.three_d_secure import challenge_from_pi
from opayo_fba.model import Order, PaymentState, PaymentTransaction, TransactionType
from opayo_fba.model.common import SourceDocument
from opayo_fba.model.three_d_secure import StrongCustomerAuthentication, ThreeDSecureChallenge
from opayo_fba.observability import ACCOUNT_RECEIVED, account_metric
from opayo_fba.routing import RoutingRules, route_order
from opayo_fba.store.orders import OrderRecord, OrderStore

MAX_ORDER_REQUEST_BYTES = 100 * 1024
"""An order request is at most 100 KiB: its record (order, source, payment, history) stays far
below DynamoDB's 400 KB item limit."""
MAX_ORDER_REQUEST_DEPTH = 32
"""The deepest JSON nesting accepted (the model itself nests about 13 levels with `source`)."""


RequestT = TypeVar("RequestT", bound=BaseModel)


class PiTransactionReference(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    type: Literal["pi_transaction"]
    transaction_id: str = Field(alias="transactionId", min_length=1, max_length=64)
    vendor_tx_code: str = Field(alias="vendorTxCode", min_length=1, max_length=40)


class PiCardReference(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    type: Literal["pi_card"]
    merchant_session_key: SecretStr = Field(alias="merchantSessionKey")
    card_identifier: SecretStr = Field(alias="cardIdentifier")
    # The shopper's browser data; Opayo refuses an Ecommerce card payment without it.
    strong_customer_authentication: StrongCustomerAuthentication = Field(
        alias="strongCustomerAuthentication"
    )


ServerTxType = Literal["PAYMENT", "DEFERRED"]
"""The Server TxTypes an order may be paid with: a DEFERRED the saga releases, or a PAYMENT,
whose money Opayo takes at authorisation (reference, "Transaction types that need no capture")."""


class ServerReference(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    type: Literal["server"]
    vendor_tx_code: str = Field(alias="vendorTxCode", min_length=1, max_length=40)
    vps_tx_id: str = Field(alias="vpsTxId", pattern=r"^\{[0-9A-Fa-f-]{36}\}$")
    security_key: SecretStr = Field(alias="securityKey", min_length=10, max_length=10)
    # What the shop sent Opayo as TxType: the registered fact the notification's signature
    # check and every later update are held to (the notification's own TxType is unsigned).
    tx_type: ServerTxType = Field(default="DEFERRED", alias="txType")


PaymentReference = Annotated[
    PiTransactionReference | PiCardReference | ServerReference, Field(discriminator="type")
]


class OrderSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    order: Order
    # Named by the shop, or chosen by the deployment's routing rules (opayo_fba.routing)
    # from the destination, currency and channel: a name that contradicts them is a 400.
    vendor: str | None = Field(default=None, min_length=1, max_length=16)
    seller_account: str | None = Field(
        default=None, alias="sellerAccount", min_length=1, max_length=64
    )
    payment: PaymentReference
    # The order exactly as the shop or ERP has it (Shopify, WooCommerce, ...): the merchant's
    # mapping templates read their custom fields from here.
    source: SourceDocument | None = None


class PaymentReader(Protocol):
    """What intake needs of the Opayo Pi client (PiClient provides it)."""

    def get_transaction(self, transaction_id: str) -> Any: ...

    def create_payment(self, payment: Any) -> Any: ...


@dataclass(frozen=True)
class KnownAccounts:
    """The Opayo vendors and Amazon seller accounts (with their marketplaces) this deployment
    is configured for: an order naming any other is refused before anything is stored or
    Opayo is called."""

    vendors: frozenset[str]
    marketplaces: Mapping[str, frozenset[str]]  # by seller account

    def check(self, submission: OrderSubmission) -> None:
        """A routed submission (route_submission) names both its vendor and its account."""
        vendor, account = _vendor(submission), _account(submission)
        if vendor not in self.vendors:
            raise InvalidInputError(
                f"vendor: {quote_input(submission.vendor)} is not an Opayo vendor of this "
                f"deployment (configured: {', '.join(sorted(self.vendors)) or 'none'})"
            )
        marketplaces = self.marketplaces.get(account)
        if marketplaces is None:
            raise InvalidInputError(
                f"sellerAccount: {quote_input(submission.seller_account)} is not a seller "
                f"account of this deployment (configured: {', '.join(sorted(self.marketplaces))})"
            )
        marketplace = submission.order.marketplace_id
        if marketplace is not None and marketplace not in marketplaces:
            raise InvalidInputError(
                f"order.marketplace_id: {quote_input(marketplace)} is not a marketplace of seller "
                f"account {submission.seller_account} ({', '.join(sorted(marketplaces))})"
            )


def _vendor(submission: OrderSubmission) -> str:
    if submission.vendor is None:
        raise InvalidInputError("vendor: the order names no Opayo vendor and none was routed")
    return submission.vendor


def _account(submission: OrderSubmission) -> str:
    if submission.seller_account is None:
        raise InvalidInputError(
            "sellerAccount: the order names no seller account and none was routed"
        )
    return submission.seller_account


@dataclass
class IntakeDependencies:
    store: OrderStore
    payments: Callable[[str], PaymentReader]  # by vendor
    starter: Starter
    card_payment: Callable[..., Any]  # opayo_fba.opayo.pi.CardPayment
    # Seals a Server SecurityKey for an order id (store/sealed.py's KmsSealer.seal).
    seal: Callable[[str, str], str]
    # The merchant's templates' Opayo fields (description, vendorData) for an order.
    opayo_fields: Callable[[dict[str, Any]], dict[str, Any]] = lambda source: {}
    # None only where a test builds the dependencies by hand; the wiring always sets it.
    accounts: KnownAccounts | None = None
    # The merchant's routing rules (cdk.json `routing`); none: every order names its accounts.
    routing: RoutingRules = field(default_factory=RoutingRules)


def refuse_card_numbers(raw: str) -> None:
    """A card number never enters the system: refuse anything that looks like one, in the raw
    text and in every decoded value and key of the JSON (so `\\u0034`-escaped digits, numbers
    and nested `source` fields are screened too).

    The error never repeats the number, and the caller must not log the body.
    """
    if contains_card_number(raw):
        raise InvalidInputError(CARD_NUMBER_REFUSED)
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return  # not JSON: the raw text was all there is, and validation refuses it
    if find_card_number(document):
        raise InvalidInputError(CARD_NUMBER_REFUSED)


def screen_request(body: str, *, what: str, max_bytes: int, max_depth: int) -> None:
    """A request body bounded in size and depth and screened for card numbers, before any
    model sees it (the API's resolver does this before Powertools validates the body)."""
    size = len(body.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"the {what} request is {size} bytes; at most {max_bytes} are accepted"
        )
    refuse_deep_json(body, max_depth)
    refuse_card_numbers(body)


def parse_request(
    body: str, model: type[RequestT], *, what: str, max_bytes: int, max_depth: int
) -> RequestT:
    """A request body: bounded in size and depth, screened for card numbers, validated."""
    screen_request(body, what=what, max_bytes=max_bytes, max_depth=max_depth)
    return model.model_validate_json(body)


def parse_submission(body: str) -> OrderSubmission:
    """`POST /orders`'s body (parse_request's bounds and screening)."""
    return parse_request(
        body,
        OrderSubmission,
        what="order",
        max_bytes=MAX_ORDER_REQUEST_BYTES,
        max_depth=MAX_ORDER_REQUEST_DEPTH,
    )


def payment_vendor_tx_code(order_id: str) -> str:
    """The vendorTxCode of an order's payment, derived from the order id alone."""
    from opayo_fba.opayo.pi import derived_vendor_tx_code

    return derived_vendor_tx_code("PAY", order_id)


def _pi_payment(
    submission: OrderSubmission, deps: IntakeDependencies
) -> tuple[PaymentTransaction, ThreeDSecureChallenge | None]:
    order = submission.order
    pi = deps.payments(_vendor(submission))
    reference = submission.payment
    if isinstance(reference, PiTransactionReference):
        transaction = pi.get_transaction(reference.transaction_id)
        payment = payment_from_pi(
            transaction.raw,
            vendor_tx_code=reference.vendor_tx_code,
            order_id=str(order.order_id),
            expected_amount=order.amount_due(),
        )
        return _referenced_pi_payment(payment, reference), None
    assert isinstance(reference, PiCardReference)
    vendor_tx_code = payment_vendor_tx_code(str(order.order_id))
    mapped = deps.opayo_fields(submission.source or order.model_dump(mode="json"))
    body = pi_transaction_request(
        order,
        vendor_tx_code=vendor_tx_code,
        transaction_type="Deferred",
        merchant_session_key=reference.merchant_session_key.get_secret_value(),
        card_identifier=reference.card_identifier.get_secret_value(),
        description=mapped.get("description"),
    ).body
    extra = {k: body[k] for k in ("shippingDetails", "customerPhone") if k in body}
    card_payment = deps.card_payment(
        transaction_type="Deferred",
        vendor_tx_code=vendor_tx_code,
        amount=order.amount_due(),
        description=str(body["description"]),
        merchant_session_key=reference.merchant_session_key.get_secret_value(),
        card_identifier=reference.card_identifier.get_secret_value(),
        customer_first_name=str(body["customerFirstName"]),
        customer_last_name=str(body["customerLastName"]),
        billing_address=body["billingAddress"],
        customer_email=body.get("customerEmail"),
        extra=extra,
        strong_customer_authentication=reference.strong_customer_authentication.to_pi(),
    )
    # Noted before Opayo is asked: if this order is never stored, the sweep finds the note
    # and ends whatever Opayo made of it (intake/abandoned.py).
    deps.store.begin_card_intake(str(order.order_id), _vendor(submission), vendor_tx_code)
    transaction = pi.create_payment(card_payment)
    payment = payment_from_pi(
        transaction.raw,
        vendor_tx_code=vendor_tx_code,
        order_id=str(order.order_id),
        expected_amount=order.amount_due(),
    )
    return payment, challenge_from_pi(transaction.raw, str(order.order_id), datetime.now(UTC))


PI_REFERENCE_TYPES = (TransactionType.DEFERRED, TransactionType.PAYMENT)
"""What a `pi_transaction` reference may name: a Deferred (released by the saga) or a Payment
(captured at authorisation, so never released). A Refund, Repeat or anything else is not the
payment of an order."""


def _referenced_pi_payment(
    payment: PaymentTransaction, reference: PiTransactionReference
) -> PaymentTransaction:
    if payment.transaction_type not in PI_REFERENCE_TYPES:
        raise InvalidInputError(
            f"payment.transactionId: Opayo says {quote_input(reference.transaction_id)} is a "
            f"{payment.transaction_type.value}; an order is paid by a Deferred or a Payment"
        )
    return payment


def _server_payment(submission: OrderSubmission) -> tuple[PaymentTransaction, str]:
    reference = submission.payment
    assert isinstance(reference, ServerReference)
    order = submission.order
    payment = PaymentTransaction(
        provider="server",
        vendor_tx_code=reference.vendor_tx_code,
        transaction_id=reference.vps_tx_id,
        transaction_type=TransactionType.parse(reference.tx_type),
        status="REGISTERED",
        state=PaymentState.PENDING,
        amount=order.amount_due(),
        order_id=order.order_id,
    )
    return payment, reference.security_key.get_secret_value()


def _same_submission(record: OrderRecord, submission: OrderSubmission) -> bool:
    return (
        record.order == submission.order
        and record.source == submission.source
        and record.vendor == submission.vendor
        and record.seller_account == submission.seller_account
    )


def route_submission(submission: OrderSubmission, rules: RoutingRules) -> OrderSubmission:
    """The submission with its seller account, marketplace and vendor as the routing rules
    choose them (InvalidInputError for a contradiction or an order nothing routes)."""
    route = route_order(
        rules,
        submission.order,
        seller_account=submission.seller_account,
        vendor=submission.vendor,
    )
    order = submission.order
    if route.marketplace_id is not None and order.marketplace_id != route.marketplace_id:
        order = order.model_copy(update={"marketplace_id": route.marketplace_id})
    return submission.model_copy(
        update={"order": order, "seller_account": route.seller_account, "vendor": route.vendor}
    )


def submit_order(submission: OrderSubmission, deps: IntakeDependencies) -> OrderRecord:
    # Routed and checked before anything is stored or Opayo is called.
    submission = route_submission(submission, deps.routing)
    if deps.accounts is not None:
        deps.accounts.check(submission)
    order_id = str(submission.order.order_id)
    if submission.order.amount_due().amount <= 0:
        raise InvalidInputError("order.totals.grand_total must be positive")
    existing = deps.store.find(order_id)
    if existing is not None:
        if _same_submission(existing, submission):
            start_if_decided(existing, deps.starter)
            return existing
        raise ConflictError(f"order {order_id} already exists with different content")
    security_key: str | None = None
    challenge: ThreeDSecureChallenge | None = None
    if isinstance(submission.payment, ServerReference):
        payment, security_key = _server_payment(submission)
    else:
        payment, challenge = _pi_payment(submission, deps)
    parked = deps.store.take_parked_payment(payment.vendor_tx_code)
    if parked is not None:
        # A Server payment's type and amount are the ones registered here, not the update's.
        parked, _ = registered_facts(parked, payment)
    if parked is not None and supersedes(parked, payment):
        payment = parked.model_copy(update={"amount": payment.amount, "order_id": order_id})
    record = OrderRecord(
        order=submission.order,
        vendor=_vendor(submission),
        seller_account=_account(submission),
        payment=payment,
        server_security_key_sealed=(
            deps.seal(security_key, order_id) if security_key is not None else None
        ),
        source=submission.source,
        three_d_secure=challenge,
    )
    record.note("received", f"payment {payment.state.value}")
    if challenge is not None:
        record.note("3ds_challenge_requested")
    record.refresh_status()
    try:
        if isinstance(submission.payment, PiCardReference):
            stored = deps.store.create_closing_card_intake(record)
        else:
            stored = deps.store.create(record)
    except CardPaymentAbandoned:
        raise
    except ConflictError:
        # Another request with the same order won the race; answer as for a repeat.
        return submit_order(submission, deps)
    account_metric(ACCOUNT_RECEIVED, stored.seller_account)  # the decline rate's denominator
    start_if_decided(stored, deps.starter)
    return stored


__all__ = [
    "MAX_ORDER_REQUEST_BYTES",
    "MAX_ORDER_REQUEST_DEPTH",
    "IntakeDependencies",
    "KnownAccounts",
    "OrderSubmission",
    "looks_like_card_number",
    "luhn_valid",
    "parse_submission",
    "payment_vendor_tx_code",
    "refuse_card_numbers",
    "submit_order",
]
