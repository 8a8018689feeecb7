"""Opayo Server notification fields -> canonical `PaymentTransaction`.

Call it only with fields whose VPSSignature the Opayo connector has already verified, and
with the transaction as it was registered with the order. Only signed or registered facts
move money: VPSSignature covers VPSTxId, VendorTxCode, Status, TxAuthNo and the card and
3-D Secure results, but not `TxType`, `Surcharge` or `StatusDetail`. So the transaction type
and the amount come from the registration (intake stores the transaction, DEFERRED, with the
amount; the notification carries no amount at all), never from the notification; an unsigned
field that contradicts the registration is reported by `unsigned_contradictions` and
changes nothing. `Surcharge`, when present, is a major-unit decimal string in the registered
currency, kept for information only. Nothing card-related beyond CardType, Last4Digits and
ExpiryDate is read, and the Token is never copied into the model.
"""

from __future__ import annotations

from collections.abc import Mapping

from opayo_fba.convert.harmonise import payment_state_from_server
from opayo_fba.errors import InvalidInputError
from opayo_fba.model.money import Money, MoneyError
from opayo_fba.model.payment import AvsCv2Result, CardSummary, PaymentTransaction
from opayo_fba.model.status import OpayoServerStatus, TransactionType


class ServerNotificationError(InvalidInputError, ValueError):
    """A notification field is missing or not in Opayo's vocabulary; the message names it."""


def _required(fields: Mapping[str, str], name: str) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        raise ServerNotificationError(f"{name} is missing from the Opayo Server notification")
    return value


def server_tx_type(transaction_type: TransactionType) -> str:
    """The Server protocol's spelling of a transaction type (`DEFERRED`)."""
    return transaction_type.value.upper()


def unsigned_contradictions(
    fields: Mapping[str, str], registered: PaymentTransaction
) -> tuple[str, ...]:
    """Unsigned notification fields that disagree with what was registered with the order.

    The descriptions never repeat the caller's value unless it is one of Opayo's own words
    (a forged field may hold anything, a card number included).
    """
    found: list[str] = []
    raw = (fields.get("TxType") or "").strip()
    if raw:
        try:
            claimed: str = TransactionType.parse(raw).value
        except ValueError:
            claimed = "an unknown transaction type"
        if claimed != registered.transaction_type.value:
            found.append(
                f"TxType (unsigned) says {claimed}, but the transaction was registered as "
                f"{registered.transaction_type.value}; the registration stands"
            )
    return tuple(found)


def payment_from_server_notification(
    fields: Mapping[str, str], *, registered: PaymentTransaction, order_id: str | None = None
) -> PaymentTransaction:
    """Canonical PaymentTransaction from a verified Server notification's form fields.

    The transaction type and amount are the registered ones (see the module docstring).
    """
    if registered.provider != "server":
        raise ServerNotificationError("the registered transaction is not an Opayo Server one")
    amount = registered.amount
    transaction_type = registered.transaction_type
    raw_status = _required(fields, "Status")
    try:
        status = OpayoServerStatus(raw_status)
    except ValueError:
        known = ", ".join(s.value for s in OpayoServerStatus)
        raise ServerNotificationError(
            f"Status {raw_status!r} is not an Opayo Server status ({known})"
        ) from None
    surcharge = None
    if (fields.get("Surcharge") or "").strip():
        try:
            surcharge = Money.parse(fields["Surcharge"], amount.currency, decimal_separator=".")
        except MoneyError as error:
            raise ServerNotificationError(f"Surcharge: {error}") from None
        if surcharge.is_zero():
            surcharge = None

    def optional(name: str) -> str | None:
        return (fields.get(name) or "").strip() or None

    card_fields = (optional("CardType"), optional("Last4Digits"), optional("ExpiryDate"))
    avs_fields = (
        optional("AVSCV2"),
        optional("AddressResult"),
        optional("PostCodeResult"),
        optional("CV2Result"),
    )
    return PaymentTransaction(
        provider="server",
        vendor_tx_code=_required(fields, "VendorTxCode"),
        transaction_id=_required(fields, "VPSTxId"),
        transaction_type=transaction_type,
        status=status.value,
        state=payment_state_from_server(status, transaction_type),
        status_detail=optional("StatusDetail"),
        amount=amount,
        surcharge=surcharge,
        auth_code=optional("TxAuthNo") or optional("BankAuthCode"),
        tx_auth_no=optional("TxAuthNo"),
        avs_cv2=AvsCv2Result(
            summary=avs_fields[0],
            address=avs_fields[1],
            postal_code=avs_fields[2],
            security_code=avs_fields[3],
        )
        if any(avs_fields)
        else None,
        three_d_secure_status=optional("3DSecureStatus"),
        card=CardSummary(
            card_type=card_fields[0], last_four_digits=card_fields[1], expiry_date=card_fields[2]
        )
        if any(card_fields)
        else None,
        order_id=order_id,
    )
