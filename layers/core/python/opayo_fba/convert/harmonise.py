"""Status harmonisation: Opayo payment, Amazon fulfillment and refund state -> `OrderStatus`.

Two steps, both total:
1. each provider vocabulary maps to a canonical component state (`payment_state_from_pi`,
   `payment_state_from_server`, `fulfillment_state_from_fba`, `fulfillment_state_from_orders_v0`,
   `refund_state`);
2. `harmonise` maps every combination of the three component states to one `OrderStatus` by
   an ordered list of precedence rules (the first that matches wins).

`order_status` does both steps for whatever vocabulary the caller holds. The table and the
reasons for each rule are in docs/status-harmonisation.md; the tests walk every combination.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opayo_fba.model.money import Money, sum_money
from opayo_fba.model.payment import Refund
from opayo_fba.model.status import (
    FbaFulfillmentOrderStatus,
    FulfillmentState,
    OpayoPiStatus,
    OpayoServerStatus,
    OrderStatus,
    OrdersV0Status,
    PaymentState,
    PiInstruction,
    RefundState,
    TransactionType,
)

P, F, R = PaymentState, FulfillmentState, RefundState

# -- step 1: provider vocabularies -> component states --------------------------------------

_PI_NOT_OK: dict[OpayoPiStatus, PaymentState] = {
    OpayoPiStatus.NOT_AUTHED: P.DECLINED,
    OpayoPiStatus.REJECTED: P.DECLINED,
    OpayoPiStatus.THREE_D_AUTH: P.PENDING,
    OpayoPiStatus.MALFORMED: P.FAILED,
    OpayoPiStatus.INVALID: P.FAILED,
    OpayoPiStatus.ERROR: P.FAILED,
}

_AFTER_INSTRUCTION: dict[PiInstruction, PaymentState] = {
    PiInstruction.RELEASE: P.CAPTURED,
    PiInstruction.ABORT: P.ABORTED,
    PiInstruction.VOID: P.VOIDED,
}

_OK_BY_TYPE: dict[TransactionType, PaymentState] = {
    TransactionType.PAYMENT: P.CAPTURED,
    TransactionType.REPEAT: P.CAPTURED,
    TransactionType.DEFERRED: P.AUTHORISED,
    # A Refund transaction exists only for a captured payment; its own outcome is a refund
    # state (see `refund_state`), the payment it refers to stays captured.
    TransactionType.REFUND: P.CAPTURED,
    TransactionType.AUTHENTICATE: P.AUTHENTICATED,
    # A TOKEN registration stores a card; no money moves.
    TransactionType.TOKEN: P.NONE,
}


def payment_state_from_pi(
    status: OpayoPiStatus,
    transaction_type: TransactionType,
    instruction: PiInstruction | None = None,
) -> PaymentState:
    """Canonical payment state of a Pi transaction (status + type + last instruction)."""
    if status is not OpayoPiStatus.OK:
        return _PI_NOT_OK[status]
    if instruction is not None:
        return _AFTER_INSTRUCTION[instruction]
    return _OK_BY_TYPE[transaction_type]


_SERVER: dict[OpayoServerStatus, PaymentState] = {
    OpayoServerStatus.NOT_AUTHED: P.DECLINED,
    OpayoServerStatus.REJECTED: P.DECLINED,
    # ABORT from Server means the shopper abandoned the payment page (or 15 minutes passed):
    # no authorisation ever existed, so it is a failed payment, not a merchant abort.
    OpayoServerStatus.ABORT: P.FAILED,
    OpayoServerStatus.ERROR: P.FAILED,
    OpayoServerStatus.AUTHENTICATED: P.AUTHENTICATED,
    # REGISTERED: 3-D Secure was not completed but the card was stored for a later AUTHORISE.
    OpayoServerStatus.REGISTERED: P.PENDING,
    OpayoServerStatus.PENDING: P.PENDING,
}


def payment_state_from_server(
    status: OpayoServerStatus, transaction_type: TransactionType
) -> PaymentState:
    """Canonical payment state of an Opayo Server notification (Status + TxType)."""
    if status is OpayoServerStatus.OK:
        return _OK_BY_TYPE[transaction_type]
    return _SERVER[status]


_FBA: dict[FbaFulfillmentOrderStatus, FulfillmentState] = {
    FbaFulfillmentOrderStatus.NEW: F.PENDING,
    FbaFulfillmentOrderStatus.RECEIVED: F.PENDING,
    FbaFulfillmentOrderStatus.PLANNING: F.PENDING,
    FbaFulfillmentOrderStatus.PROCESSING: F.PROCESSING,
    FbaFulfillmentOrderStatus.CANCELLED: F.CANCELLED,
    FbaFulfillmentOrderStatus.COMPLETE: F.SHIPPED,
    FbaFulfillmentOrderStatus.COMPLETE_PARTIALLED: F.PARTIALLY_SHIPPED,
    FbaFulfillmentOrderStatus.UNFULFILLABLE: F.UNFULFILLABLE,
    FbaFulfillmentOrderStatus.INVALID: F.UNFULFILLABLE,
}

_ORDERS_V0: dict[OrdersV0Status, FulfillmentState] = {
    OrdersV0Status.PENDING: F.AWAITING_PAYMENT,
    OrdersV0Status.PENDING_AVAILABILITY: F.AWAITING_PAYMENT,
    OrdersV0Status.UNSHIPPED: F.PENDING,
    OrdersV0Status.PARTIALLY_SHIPPED: F.PARTIALLY_SHIPPED,
    OrdersV0Status.SHIPPED: F.SHIPPED,
    OrdersV0Status.INVOICE_UNCONFIRMED: F.SHIPPED,
    OrdersV0Status.CANCELED: F.CANCELLED,
    OrdersV0Status.UNFULFILLABLE: F.UNFULFILLABLE,
}


def fulfillment_state_from_fba(status: FbaFulfillmentOrderStatus) -> FulfillmentState:
    return _FBA[status]


def fulfillment_state_from_orders_v0(status: OrdersV0Status) -> FulfillmentState:
    return _ORDERS_V0[status]


def refund_state(refunds: Iterable[Refund], captured: Money) -> RefundState:
    """Refund state of a payment of `captured` given every refund requested against it.

    Failed refunds count only when nothing else is in flight or done; a pending refund makes
    the whole state pending; otherwise confirmed refunds are compared with the capture.
    """
    refunds = list(refunds)
    if not refunds:
        return R.NONE
    if any(refund.status == "pending" for refund in refunds):
        return R.PENDING
    succeeded = [refund.amount for refund in refunds if refund.status == "succeeded"]
    if not succeeded:
        return R.FAILED
    total = sum_money(succeeded, captured.currency)
    return R.FULL if total >= captured else R.PARTIAL


# -- step 2: precedence rules ---------------------------------------------------------------

_MONEY_TAKEN = frozenset({P.CAPTURED})
_NO_MONEY = frozenset({P.DECLINED, P.FAILED, P.ABORTED, P.VOIDED})
_NOT_YET_CAPTURED = frozenset({P.PENDING, P.AUTHENTICATED, P.AUTHORISED})
_GOODS_MOVING = frozenset({F.PROCESSING, F.PARTIALLY_SHIPPED, F.SHIPPED, F.DELIVERED, F.RETURNED})
_GOODS_NOT_MOVING = frozenset({F.NONE, F.AWAITING_PAYMENT, F.PENDING})

Rule = tuple[str, Callable[[PaymentState, FulfillmentState, RefundState], bool], OrderStatus]

RULES: tuple[Rule, ...] = (
    (
        "a refund exists for a payment that was never captured",
        lambda p, f, r: r is not R.NONE and p not in _MONEY_TAKEN,
        OrderStatus.NEEDS_ATTENTION,
    ),
    ("a refund failed", lambda p, f, r: r is R.FAILED, OrderStatus.NEEDS_ATTENTION),
    ("refunded in full (beats any fulfilment state)", lambda p, f, r: r is R.FULL,
     OrderStatus.REFUNDED),
    (
        "goods came back, refunded in part or not yet",
        lambda p, f, r: p in {P.CAPTURED, P.NONE} and f is F.RETURNED and r is not R.PENDING,
        OrderStatus.RETURNED,
    ),
    ("refunded in part", lambda p, f, r: r is R.PARTIAL, OrderStatus.PARTIALLY_REFUNDED),
    ("a refund is in flight", lambda p, f, r: r is R.PENDING, OrderStatus.REFUND_PENDING),
    (
        "goods are moving but no money was or will be taken",
        lambda p, f, r: p in _NO_MONEY and f in _GOODS_MOVING,
        OrderStatus.NEEDS_ATTENTION,
    ),
    (
        "goods are moving before the payment was captured",
        lambda p, f, r: p in _NOT_YET_CAPTURED and f in _GOODS_MOVING,
        OrderStatus.NEEDS_ATTENTION,
    ),
    (
        "money was taken but the fulfilment was cancelled and nothing refunded",
        lambda p, f, r: p in _MONEY_TAKEN and f is F.CANCELLED,
        OrderStatus.NEEDS_ATTENTION,
    ),
    (
        "the merchant aborted or voided the payment",
        lambda p, f, r: p in {P.ABORTED, P.VOIDED},
        OrderStatus.CANCELLED,
    ),
    (
        "the payment was declined or failed (the cause, even once fulfilment is cancelled)",
        lambda p, f, r: p in {P.DECLINED, P.FAILED},
        OrderStatus.PAYMENT_FAILED,
    ),
    ("the fulfilment was cancelled", lambda p, f, r: f is F.CANCELLED, OrderStatus.CANCELLED),
    ("Amazon cannot fulfil it", lambda p, f, r: f is F.UNFULFILLABLE, OrderStatus.UNFULFILLABLE),
    ("delivered to the customer", lambda p, f, r: f is F.DELIVERED, OrderStatus.DELIVERED),
    ("shipped", lambda p, f, r: f is F.SHIPPED, OrderStatus.SHIPPED),
    ("partially shipped", lambda p, f, r: f is F.PARTIALLY_SHIPPED, OrderStatus.PARTIALLY_SHIPPED),
    ("being picked and packed", lambda p, f, r: f is F.PROCESSING,
     OrderStatus.FULFILMENT_PROCESSING),
    (
        "funds held, fulfilment order waiting (on Hold) or not yet created",
        lambda p, f, r: p is P.AUTHORISED,
        OrderStatus.PAYMENT_AUTHORISED,
    ),
    (
        "payment still in progress",
        lambda p, f, r: p in {P.PENDING, P.AUTHENTICATED},
        OrderStatus.PAYMENT_PENDING,
    ),
    (
        "Amazon has not yet authorised the buyer's payment",
        lambda p, f, r: f is F.AWAITING_PAYMENT,
        OrderStatus.PAYMENT_PENDING,
    ),
    ("fulfilment order waiting to ship", lambda p, f, r: f is F.PENDING,
     OrderStatus.FULFILMENT_PENDING),
    ("paid, no fulfilment order yet", lambda p, f, r: p is P.CAPTURED, OrderStatus.PAID),
    ("nothing has happened yet", lambda p, f, r: True, OrderStatus.RECEIVED),
)  # fmt: skip
"""(reason, predicate, result) in precedence order. The last rule matches everything, so
`harmonise` is total."""


def explain(
    payment: PaymentState, fulfillment: FulfillmentState, refund: RefundState = R.NONE
) -> tuple[OrderStatus, str]:
    """The canonical status and the reason (the first rule that matched)."""
    for reason, matches, result in RULES:
        if matches(payment, fulfillment, refund):
            return result, reason
    raise AssertionError("unreachable: the last rule matches everything")  # pragma: no cover


def harmonise(
    payment: PaymentState, fulfillment: FulfillmentState, refund: RefundState = R.NONE
) -> OrderStatus:
    """The canonical order status for one combination of component states."""
    return explain(payment, fulfillment, refund)[0]


PaymentInput = PaymentState | OpayoPiStatus | OpayoServerStatus
FulfillmentInput = FulfillmentState | FbaFulfillmentOrderStatus | OrdersV0Status


def order_status(
    payment: PaymentInput | None = None,
    fulfillment: FulfillmentInput | None = None,
    refund: RefundState = R.NONE,
    *,
    transaction_type: TransactionType = TransactionType.PAYMENT,
    instruction: PiInstruction | None = None,
) -> OrderStatus:
    """Harmonise straight from provider vocabularies.

    `payment` may be a Pi or Server status (read with `transaction_type` and, for Pi, the last
    `instruction`), a canonical PaymentState, or None (no Opayo payment). `fulfillment` may be
    an FBA fulfillmentOrderStatus, an Orders v0 OrderStatus, a FulfillmentState or None.
    """
    if payment is None:
        payment_state = P.NONE
    elif isinstance(payment, OpayoPiStatus):
        payment_state = payment_state_from_pi(payment, transaction_type, instruction)
    elif isinstance(payment, OpayoServerStatus):
        payment_state = payment_state_from_server(payment, transaction_type)
    else:
        payment_state = payment
    if fulfillment is None:
        fulfillment_state = F.NONE
    elif isinstance(fulfillment, FbaFulfillmentOrderStatus):
        fulfillment_state = fulfillment_state_from_fba(fulfillment)
    elif isinstance(fulfillment, OrdersV0Status):
        fulfillment_state = fulfillment_state_from_orders_v0(fulfillment)
    else:
        fulfillment_state = fulfillment
    return harmonise(payment_state, fulfillment_state, refund)
