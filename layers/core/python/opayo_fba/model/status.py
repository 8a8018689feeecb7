"""The status vocabularies: the providers' own, and the canonical states we derive from them.

Provider enums list every value the official models and Opayo's documentation define, so a
value we have never seen fails validation at the edge instead of falling through a mapping.
The harmonisation from these to `OrderStatus` lives in `opayo_fba.convert.harmonise`.
"""

from __future__ import annotations

from enum import StrEnum

from opayo_fba.card_numbers import quote_input


class OpayoPiStatus(StrEnum):
    """`status` of an Opayo Pi transaction response."""

    OK = "Ok"
    NOT_AUTHED = "NotAuthed"
    REJECTED = "Rejected"
    THREE_D_AUTH = "3DAuth"
    MALFORMED = "Malformed"
    INVALID = "Invalid"
    ERROR = "Error"


class OpayoServerStatus(StrEnum):
    """`Status` of an Opayo Server notification."""

    OK = "OK"
    NOT_AUTHED = "NOTAUTHED"
    ABORT = "ABORT"
    REJECTED = "REJECTED"
    AUTHENTICATED = "AUTHENTICATED"
    REGISTERED = "REGISTERED"
    ERROR = "ERROR"
    PENDING = "PENDING"


class PiInstruction(StrEnum):
    """An instruction applied to a Pi transaction after it was created."""

    RELEASE = "release"
    ABORT = "abort"
    VOID = "void"


class TransactionType(StrEnum):
    """Opayo transaction types; Pi spells them Payment/Deferred/..., Server PAYMENT/DEFERRED/..."""

    PAYMENT = "Payment"
    DEFERRED = "Deferred"
    REPEAT = "Repeat"
    REFUND = "Refund"
    AUTHENTICATE = "Authenticate"
    TOKEN = "Token"  # noqa: S105 - a transaction type, not a secret

    @classmethod
    def parse(cls, value: str) -> TransactionType:
        """Accept either vocabulary, case-insensitively ("DEFERRED" or "Deferred")."""
        for member in cls:
            if member.value.casefold() == value.strip().casefold():
                return member
        known = ", ".join(member.value for member in cls)
        raise ValueError(f"unknown transaction type {quote_input(value)}; expected one of {known}")


class FbaFulfillmentOrderStatus(StrEnum):
    """`fulfillmentOrderStatus` of FBA outbound 2020-07-01."""

    NEW = "New"
    RECEIVED = "Received"
    PLANNING = "Planning"
    PROCESSING = "Processing"
    CANCELLED = "Cancelled"
    COMPLETE = "Complete"
    COMPLETE_PARTIALLED = "CompletePartialled"
    UNFULFILLABLE = "Unfulfillable"
    INVALID = "Invalid"


class FbaShipmentStatus(StrEnum):
    """`fulfillmentShipmentStatus` of FBA outbound 2020-07-01."""

    PENDING = "PENDING"
    SHIPPED = "SHIPPED"
    CANCELLED_BY_FULFILLER = "CANCELLED_BY_FULFILLER"
    CANCELLED_BY_SELLER = "CANCELLED_BY_SELLER"


class FbaReturnItemStatus(StrEnum):
    """FBA outbound 2020-07-01 `FulfillmentReturnItemStatus`."""

    NEW = "New"
    PROCESSED = "Processed"


class ReturnReceivedCondition(StrEnum):
    """FBA outbound 2020-07-01 `ReturnItemDisposition`: the condition a return arrived in."""

    SELLABLE = "Sellable"
    DEFECTIVE = "Defective"
    CUSTOMER_DAMAGED = "CustomerDamaged"
    CARRIER_DAMAGED = "CarrierDamaged"
    FULFILLER_DAMAGED = "FulfillerDamaged"


class OrdersV0Status(StrEnum):
    """`OrderStatus` of the Orders v0 API."""

    PENDING = "Pending"
    UNSHIPPED = "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped"
    SHIPPED = "Shipped"
    CANCELED = "Canceled"
    UNFULFILLABLE = "Unfulfillable"
    INVOICE_UNCONFIRMED = "InvoiceUnconfirmed"
    PENDING_AVAILABILITY = "PendingAvailability"


class PaymentState(StrEnum):
    """Where the money is, whichever Opayo integration took it."""

    NONE = "none"  # no Opayo payment (e.g. an Amazon order, or not yet registered)
    PENDING = "pending"  # registered, 3-D Secure in progress, or status PENDING
    AUTHENTICATED = "authenticated"  # Server AUTHENTICATE: card checked, nothing authorised
    AUTHORISED = "authorised"  # Deferred: funds held, not captured
    CAPTURED = "captured"  # Payment/Repeat, or a released Deferred
    DECLINED = "declined"  # NotAuthed / Rejected by the bank or fraud rules
    FAILED = "failed"  # Malformed / Invalid / Error, or the shopper abandoned (Server ABORT)
    ABORTED = "aborted"  # merchant aborted a Deferred authorisation
    VOIDED = "voided"  # merchant voided a captured payment before settlement


class FulfillmentState(StrEnum):
    """Where the goods are, from FBA outbound or from an Amazon order."""

    NONE = "none"  # no fulfillment order yet
    AWAITING_PAYMENT = "awaiting_payment"  # Orders v0 Pending / PendingAvailability
    PENDING = "pending"  # New, Received, Planning; Orders v0 Unshipped
    PROCESSING = "processing"  # being picked; can no longer be cancelled
    PARTIALLY_SHIPPED = "partially_shipped"  # CompletePartialled; PartiallyShipped
    SHIPPED = "shipped"  # Complete; Shipped; InvoiceUnconfirmed
    DELIVERED = "delivered"  # every package's tracking says DELIVERED
    RETURNED = "returned"  # a return Amazon received, or a parcel returned to the sender
    CANCELLED = "cancelled"
    UNFULFILLABLE = "unfulfillable"  # Unfulfillable, Invalid


class RefundState(StrEnum):
    NONE = "none"
    PENDING = "pending"  # requested, not yet confirmed by Opayo
    PARTIAL = "partial"  # confirmed refunds total less than the captured amount
    FULL = "full"  # confirmed refunds equal the captured amount
    FAILED = "failed"  # a refund was refused or errored and nothing replaced it


class OrderStatus(StrEnum):
    """The one status the ERP, the dashboards and the saga agree on."""

    RECEIVED = "received"
    PAYMENT_PENDING = "payment_pending"
    PAYMENT_AUTHORISED = "payment_authorised"
    PAYMENT_FAILED = "payment_failed"
    PAID = "paid"
    FULFILMENT_PENDING = "fulfilment_pending"
    FULFILMENT_PROCESSING = "fulfilment_processing"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"
    UNFULFILLABLE = "unfulfillable"
    CANCELLED = "cancelled"
    REFUND_PENDING = "refund_pending"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    NEEDS_ATTENTION = "needs_attention"
