"""`POST /orders`: a canonical order with its payment reference, validated at the edge.

Three ways to say how the order is paid:
- `pi_transaction`: an Opayo Pi transaction the shop already created (we read its state);
- `pi_card`: a merchant session key and card identifier from the shopper's browser, with the
  browser's `strongCustomerAuthentication` data (we create the Deferred transaction, with a
  vendorTxCode derived from the order id, so a repeated POST can never authorise twice; when
  Opayo asks for a 3-D Secure challenge the order waits for it: intake/three_d_secure.py);
- `server`: a transaction registered through Opayo Server (its VPSTxId and SecurityKey; the
  signed notification tells us the outcome later).
The order is stored, joined with a payment update that arrived first, and the saga starts as
soon as the payment is decided. Submitting the same order again returns it unchanged; another
order under the same id is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr

from opayo_fba.errors import ConflictError, InvalidInputError
from opayo_fba.intake.payments import Starter, start_if_decided, supersedes
from opayo_fba.intake.three_d_secure import challenge_from_pi
from opayo_fba.model import Order, PaymentState, PaymentTransaction, TransactionType
from opayo_fba.model.three_d_secure import StrongCustomerAuthentication, ThreeDSecureChallenge
from opayo_fba.store.orders import OrderRecord, OrderStore
from opayo_fba.transform.opayo_pi import payment_from_pi, pi_transaction_request

_DIGIT_RUN = re.compile(r"(?<![\d-])(?:\d[ -]?){11,18}\d(?![\d-])")


class PiTransactionReference(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["pi_transaction"]
    transaction_id: str = Field(alias="transactionId", min_length=1, max_length=64)
    vendor_tx_code: str = Field(alias="vendorTxCode", min_length=1, max_length=40)


class PiCardReference(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["pi_card"]
    merchant_session_key: SecretStr = Field(alias="merchantSessionKey")
    card_identifier: SecretStr = Field(alias="cardIdentifier")
    # The shopper's browser data; Opayo refuses an Ecommerce card payment without it.
    strong_customer_authentication: StrongCustomerAuthentication = Field(
        alias="strongCustomerAuthentication"
    )


class ServerReference(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["server"]
    vendor_tx_code: str = Field(alias="vendorTxCode", min_length=1, max_length=40)
    vps_tx_id: str = Field(alias="vpsTxId", pattern=r"^\{[0-9A-Fa-f-]{36}\}$")
    security_key: SecretStr = Field(alias="securityKey", min_length=10, max_length=10)


PaymentReference = Annotated[
    PiTransactionReference | PiCardReference | ServerReference, Field(discriminator="type")
]


class OrderSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    order: Order
    vendor: str = Field(min_length=1, max_length=16)
    seller_account: str = Field(alias="sellerAccount", min_length=1, max_length=64)
    payment: PaymentReference
    # The order exactly as the shop or ERP has it (Shopify, WooCommerce, ...): the merchant's
    # mapping templates read their custom fields from here.
    source: dict[str, JsonValue] | None = None


class PaymentReader(Protocol):
    """What intake needs of the Opayo Pi client (PiClient provides it)."""

    def get_transaction(self, transaction_id: str) -> Any: ...

    def create_payment(self, payment: Any) -> Any: ...


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


# Card brands' number prefixes and lengths (ISO/IEC 7812 issuer ranges as the schemes publish
# them). Requiring a brand as well as Luhn keeps order ids and timestamps, one in ten of which
# pass Luhn by chance, from being mistaken for card numbers.
_BRANDS: tuple[tuple[tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    (((4, 4),), frozenset({13, 16, 19})),  # Visa
    (((51, 55), (2221, 2720)), frozenset({16})),  # Mastercard
    (((34, 34), (37, 37)), frozenset({15})),  # American Express
    (((300, 305), (36, 36), (38, 39)), frozenset(range(14, 20))),  # Diners Club
    (((6011, 6011), (644, 649), (65, 65), (622126, 622925)), frozenset(range(16, 20))),
    (((3528, 3589),), frozenset(range(16, 20))),  # JCB
    (((62, 62),), frozenset(range(16, 20))),  # UnionPay
    (((5018, 5018), (5020, 5020), (5038, 5038), (5893, 5893), (6304, 6304), (6759, 6759),
      (6761, 6763)), frozenset(range(12, 20))),  # Maestro
)  # fmt: skip


def looks_like_card_number(digits: str) -> bool:
    """A brand's prefix, one of its lengths, and a valid Luhn check digit."""
    if not digits.isdigit():
        return False
    for ranges, lengths in _BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return luhn_valid(digits)
    return False


def refuse_card_numbers(raw: str) -> None:
    """A card number never enters the system: refuse anything that looks like one.

    The error never repeats the number, and the caller must not log the body.
    """
    for match in _DIGIT_RUN.finditer(raw):
        if looks_like_card_number(re.sub(r"\D", "", match.group())):
            raise InvalidInputError(
                "the request contains what looks like a card number; send only the "
                "cardIdentifier from Opayo's drop-in checkout, never card details"
            )


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every card number passes."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def payment_vendor_tx_code(order_id: str) -> str:
    """The vendorTxCode of an order's payment, derived from the order id alone."""
    candidate = f"PAY-{order_id}"
    if re.fullmatch(r"[A-Za-z0-9{}._-]{1,40}", candidate):
        return candidate
    return "PAYH-" + hashlib.sha256(order_id.encode("utf-8")).hexdigest()[:32]


def _pi_payment(
    submission: OrderSubmission, deps: IntakeDependencies
) -> tuple[PaymentTransaction, ThreeDSecureChallenge | None]:
    order = submission.order
    pi = deps.payments(submission.vendor)
    reference = submission.payment
    if isinstance(reference, PiTransactionReference):
        transaction = pi.get_transaction(reference.transaction_id)
        payment = payment_from_pi(
            transaction.raw,
            vendor_tx_code=reference.vendor_tx_code,
            order_id=str(order.order_id),
            expected_amount=order.amount_due(),
        )
        return payment, None
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
    transaction = pi.create_payment(card_payment)
    payment = payment_from_pi(
        transaction.raw,
        vendor_tx_code=vendor_tx_code,
        order_id=str(order.order_id),
        expected_amount=order.amount_due(),
    )
    return payment, challenge_from_pi(transaction.raw, str(order.order_id), datetime.now(UTC))


def _server_payment(submission: OrderSubmission) -> tuple[PaymentTransaction, str]:
    reference = submission.payment
    assert isinstance(reference, ServerReference)
    order = submission.order
    payment = PaymentTransaction(
        provider="server",
        vendor_tx_code=reference.vendor_tx_code,
        transaction_id=reference.vps_tx_id,
        transaction_type=TransactionType.DEFERRED,
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


def submit_order(submission: OrderSubmission, deps: IntakeDependencies) -> OrderRecord:
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
    if parked is not None and supersedes(parked, payment):
        payment = parked.model_copy(update={"amount": payment.amount, "order_id": order_id})
    record = OrderRecord(
        order=submission.order,
        vendor=submission.vendor,
        seller_account=submission.seller_account,
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
        stored = deps.store.create(record)
    except ConflictError:
        # Another request with the same order won the race; answer as for a repeat.
        return submit_order(submission, deps)
    start_if_decided(stored, deps.starter)
    return stored
