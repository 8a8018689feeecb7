"""Deterministic outcomes: which transaction is authorised, declined, challenged or errors.

Decided by magic amounts (in minor units, any currency), the cardholder name and the AVS/CV2
result, so tests and the demo can produce every outcome on purpose. docs/sandbox-opayo.md has
the table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    status: str  # Pi status: Ok, NotAuthed, Rejected, 3DAuth, Malformed, Invalid, Error
    status_code: str
    status_detail: str
    http_status: int
    # The Server protocol's Status for the same outcome (notifications).
    server_status: str


# rule: OPAYO-OUT-01
OK = Outcome("Ok", "0000", "The Authorisation was Successful.", 201, "OK")
NOT_AUTHED = Outcome(
    "NotAuthed", "2000", "The Authorisation was Declined by the bank.", 403, "NOTAUTHED"
)
REJECTED_BY_RULES = Outcome(
    "Rejected", "2001", "The Authorisation was Rejected by the vendor rule-base.", 403, "REJECTED"
)
REJECTED_3DS = Outcome(
    "Rejected",
    "4026",
    "3D-Authentication failed. This vendor's rules require a successful 3D-Authentication.",
    403,
    "REJECTED",
)
CHALLENGE = Outcome(
    "3DAuth",
    "2021",
    "Please redirect your customer to the ACSURL to complete the 3DS Transaction",
    202,
    "PENDING",
)
ERROR = Outcome("Error", "5003", "Internal server error", 500, "ERROR")
ABORTED = Outcome(
    "Rejected", "2013", "The Transaction was cancelled by the customer.", 403, "ABORT"
)

# Magic amounts in minor units: 403.00 declines, 403.01 is rejected, 500.00 errors. Any other
# amount is authorised. (3-D Secure outcomes come from the cardholder name, as on Opayo's test
# gateway: sandbox/opayo/three_d_secure.py.)
# rule: OPAYO-OUT-02
MAGIC_AMOUNTS: dict[int, Outcome] = {
    40300: NOT_AUTHED,
    40301: REJECTED_BY_RULES,
    50000: ERROR,
}
CHALLENGE_CARDHOLDER_NAME = "CHALLENGE"

SERVER_OUTCOMES: dict[str, Outcome] = {
    "OK": OK,
    "NOTAUTHED": NOT_AUTHED,
    "REJECTED": REJECTED_BY_RULES,
    "ERROR": ERROR,
    "ABORT": ABORTED,
}


def decide_authorisation(
    *,
    amount: int,
    cardholder_name: str,
    avs_cvc_all_matched: bool,
    apply_avs_cvc_check: str,
    apply_3d_secure: str,
) -> Outcome:
    magic = MAGIC_AMOUNTS.get(amount)
    if magic is not None:
        return magic
    if apply_avs_cvc_check == "Force" and not avs_cvc_all_matched:
        return REJECTED_BY_RULES
    if cardholder_name.strip().upper() == CHALLENGE_CARDHOLDER_NAME and apply_3d_secure != (
        "Disable"
    ):
        return CHALLENGE
    return OK


# rule: OPAYO-OUT-04
def avs_cvc_check(
    *, address1: str, postal_code: str, security_code_matched: bool
) -> dict[str, str]:
    """The Pi `avsCvcCheck` object for these details."""
    address = "Matched" if "88" in address1 else "NotMatched"
    postcode = "Matched" if "412" in postal_code else "NotMatched"
    code = "Matched" if security_code_matched else "NotMatched"
    if address == postcode == code == "Matched":
        status = "AllMatched"
    elif code == "Matched":
        status = "SecurityCodeMatchOnly"
    elif address == "Matched" or postcode == "Matched":
        status = "AddressMatchOnly"
    else:
        status = "NoMatches"
    return {"status": status, "address": address, "postalCode": postcode, "securityCode": code}


# Not an authorisation outcome: a Server-integration transaction waiting for the shopper.
REGISTERED = Outcome(
    "Registered", "2014", "The Transaction was Registered Successfully.", 200, "REGISTERED"
)
