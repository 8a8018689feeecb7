"""Opayo's published sandbox test cards, and the checks the card-identifier endpoint makes.

A card number is looked at here and then forgotten: only the card type, the last four digits
and the expiry date leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opayo_fba.intake.orders import luhn_valid

# AVS/CV2 checks match when the security code is this and the billing address line and postcode
# contain these (Opayo's sandbox convention).
MATCHING_SECURITY_CODE = "123"
MATCHING_ADDRESS_NUMBER = "88"
MATCHING_POSTCODE = "412"


@dataclass(frozen=True)
class TestCard:
    number: str
    # Card type as the Pi API names it, and as the Server/Reporting protocols abbreviate it.
    pi_type: str
    server_type: str
    label: str


TEST_CARDS: dict[str, TestCard] = {
    card.number: card
    for card in (
        TestCard("4929000000006", "Visa", "VISA", "Visa"),
        TestCard("4462000000000003", "Visa", "DELTA", "Visa Debit"),
        TestCard("4917300000000008", "Visa", "UKE", "Visa Electron"),
        TestCard("5404000000000001", "MasterCard", "MC", "Mastercard"),
        TestCard("5573470000000001", "MasterCard", "MCDEBIT", "Debit Mastercard"),
        TestCard("374200000000004", "AmericanExpress", "AMEX", "American Express"),
    )
}


class CardRejected(ValueError):
    """The card details fail a check; `property` names the offending field."""

    def __init__(self, property_name: str, description: str) -> None:
        super().__init__(description)
        self.property = property_name
        self.description = description


# rule: OPAYO-CARD-01
def identify_test_card(number: object, *, property_name: str = "cardNumber") -> TestCard:
    if not isinstance(number, str) or not number:
        raise CardRejected(property_name, "The card number is required")
    digits = number.replace(" ", "")
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        raise CardRejected(property_name, "The card number must be 12 to 19 digits")
    if not luhn_valid(digits):
        raise CardRejected(property_name, "The card number fails the Luhn check")
    card = TEST_CARDS.get(digits)
    if card is None:
        raise CardRejected(
            property_name,
            "The card number is not one of Opayo's sandbox test cards (see docs/sandbox-opayo.md)",
        )
    return card


# rule: OPAYO-CARD-02
def check_expiry(expiry: object, now: datetime, *, property_name: str = "expiryDate") -> str:
    """`MMYY`, not in the past on the sandbox clock."""
    if not isinstance(expiry, str) or len(expiry) != 4 or not expiry.isdigit():
        raise CardRejected(property_name, "The expiry date must be MMYY")
    month, year = int(expiry[:2]), 2000 + int(expiry[2:])
    if not 1 <= month <= 12:
        raise CardRejected(property_name, "The expiry date month must be 01 to 12")
    if (year, month) < (now.year, now.month):
        raise CardRejected(property_name, "The card has expired")
    return expiry


# rule: OPAYO-CARD-03
def check_security_code(code: object, *, property_name: str = "securityCode") -> bool:
    """Validates the format; returns whether it matches. The code itself is never kept."""
    if code is None:
        return False
    if not isinstance(code, str) or not code.isdigit() or not 3 <= len(code) <= 4:
        raise CardRejected(property_name, "The security code must be 3 or 4 digits")
    return code == MATCHING_SECURITY_CODE
