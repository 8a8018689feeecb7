"""3-D Secure 2 challenges on the card path (`pi_card` orders), from 202 to the saga.

1. `POST /orders` creates the Deferred with the shopper's browser data. When Opayo asks for a
   challenge (HTTP 202, `3DAuth`, `2021`, `acsUrl`, `cReq`) the order is stored with its
   `ThreeDSecureChallenge`, no saga yet, and the shop gets 202 with `acsUrl`, `cReq` and our
   `threeDSSessionData` (`submission_reply`).
2. The shop's page posts `creq` + `threeDSSessionData` to the ACS from the shopper's browser;
   the ACS posts `cres` + `threeDSSessionData` back to the shop's notificationURL.
3. The shop calls `POST /orders/{id}/3ds-challenge {cRes, threeDSSessionData}`
   (`complete_challenge`): we send it to Pi's 3d-secure-challenge and apply the final
   transaction like any payment update, which starts the saga.
4. A challenge nobody completes is aborted (`poll_update`, run by the Pi status poller): once
   Opayo has finished the transaction without authorising it, or after `CHALLENGE_DEADLINE`.

Money safety: only one completion can be in flight (a conditional claim on the order); a
completion that may have reached Opayo is resolved from Pi's state before anything is sent
again (PiClient.complete_challenge); nobody may complete after the point where the poller may
abort (`CHALLENGE_DEADLINE - COMPLETION_GRACE`); and should Opayo ever authorise a challenge we
had already given up on, that authorisation is aborted at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opayo_fba.convert.opayo_pi import payment_from_pi
from opayo_fba.errors import ConflictError, InvalidInputError
from opayo_fba.intake.payments import Starter, start_if_decided, supersedes
from opayo_fba.model import PaymentState, PaymentTransaction
from opayo_fba.model.three_d_secure import ThreeDSecureChallenge
from opayo_fba.opayo.errors import OpayoRequestInvalid
from opayo_fba.store.orders import OrderRecord, OrderStore

CHALLENGE_DEADLINE = timedelta(hours=1)
"""A challenge still awaiting its result this long after Opayo asked for it is aborted. Opayo
cancels unfinished Server transactions after 15 minutes (Transaction Monitor); for Pi nothing
public says when, so we wait longer than that and act on Opayo's own state first."""
COMPLETION_GRACE = timedelta(minutes=5)
"""Completions are refused this long before the deadline, and a completion claimed this long
ago is taken to have died: longer than any Pi call with its retries (PiClient: 60 s)."""
ABANDONED_OUTCOME = "3ds_challenge_abandoned"


def session_data_for(order_id: str) -> str:
    """Our `threeDSSessionData`: the order id, base64url without padding (EMV 3DS allows up to
    1024 characters of base64url)."""
    return base64.urlsafe_b64encode(order_id.encode("utf-8")).decode().rstrip("=")


def challenge_from_pi(
    raw: Mapping[str, Any], order_id: str, now: datetime
) -> ThreeDSecureChallenge | None:
    """The challenge in a Pi transaction response, or None when Opayo asked for none."""
    if raw.get("status") != "3DAuth":
        return None
    acs_url, c_req = raw.get("acsUrl"), raw.get("cReq")
    if not isinstance(acs_url, str) or not isinstance(c_req, str):
        raise InvalidInputError("Opayo asked for 3-D Secure but sent no acsUrl and cReq")
    return ThreeDSecureChallenge(
        acs_url=acs_url,
        c_req=c_req,
        three_ds_session_data=session_data_for(order_id),
        created_at=now,
    )


def submission_reply(record: OrderRecord, *, existed: bool) -> tuple[int, dict[str, Any]]:
    """`POST /orders`' status and body: 202 with the challenge while one is awaited."""
    body = record.public_view()
    challenge = record.three_d_secure
    if challenge is not None and challenge.state == "awaiting":
        body["challenge"] = challenge.for_shop(record.order_id)
        return 202, body
    return (200 if existed else 201), body


MAX_CHALLENGE_REQUEST_BYTES = 16_384
"""A cRes of at most 10000 characters and its threeDSSessionData fit well within this."""
MAX_CHALLENGE_REQUEST_DEPTH = 2


class ChallengeCompletion(BaseModel):
    """`POST /orders/{orderId}/3ds-challenge`: what the ACS posted to the shop's page."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    c_res: str = Field(alias="cRes", min_length=1, max_length=10000, pattern=r"^[A-Za-z0-9_=-]+$")
    three_ds_session_data: str = Field(
        alias="threeDSSessionData", min_length=1, max_length=1024, pattern=r"^[A-Za-z0-9_=-]+$"
    )


@dataclass
class ChallengeDependencies:
    store: OrderStore
    payments: Callable[[str], Any]  # by vendor -> PiClient
    starter: Starter
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def _digest(c_res: str) -> str:
    return hashlib.sha256(c_res.encode("utf-8")).hexdigest()


class _Moved(Exception):
    """The challenge changed state between our read and our write."""


def _claim(deps: ChallengeDependencies, order_id: str, digest: str) -> OrderRecord:
    def change(record: OrderRecord) -> None:
        challenge = record.three_d_secure
        if challenge is None or challenge.state != "awaiting":
            raise _Moved
        record.three_d_secure = challenge.model_copy(
            update={"state": "completing", "c_res_digest": digest, "claimed_at": deps.now()}
        )
        record.note("3ds_challenge_completing")

    return deps.store.update(order_id, change)


def _release_claim(deps: ChallengeDependencies, order_id: str) -> None:
    def change(record: OrderRecord) -> None:
        challenge = record.three_d_secure
        if challenge is not None and challenge.state == "completing":
            record.three_d_secure = challenge.model_copy(
                update={"state": "awaiting", "c_res_digest": None, "claimed_at": None}
            )
            record.note("3ds_challenge_refused_by_opayo")

    deps.store.update(order_id, change)


def complete_challenge(
    order_id: str, completion: ChallengeCompletion, deps: ChallengeDependencies
) -> OrderRecord:
    """Finish an order's 3-D Secure challenge with the ACS's cRes; the saga then starts.

    A repeat with the same cRes is answered with the same order; a different cRes for a
    finished challenge, or any completion once the challenge was abandoned, is a conflict.
    """
    record = deps.store.get(order_id)
    challenge = record.three_d_secure
    if challenge is None:
        raise ConflictError(f"order {order_id} is not waiting for 3-D Secure")
    if not hmac.compare_digest(
        completion.three_ds_session_data.encode(), challenge.three_ds_session_data.encode()
    ):
        raise InvalidInputError("threeDSSessionData is not the one issued for this order")
    digest = _digest(completion.c_res)
    same = challenge.c_res_digest is not None and hmac.compare_digest(
        challenge.c_res_digest, digest
    )
    if challenge.state == "abandoned":
        raise ConflictError(f"the 3-D Secure challenge of order {order_id} was abandoned")
    if challenge.state == "completed":
        if not same:
            raise ConflictError(f"order {order_id}'s challenge was completed with another cRes")
        start_if_decided(record, deps.starter)
        return record
    if challenge.state == "completing" and not same:
        raise ConflictError(f"order {order_id}'s challenge is being completed with another cRes")
    resuming = challenge.state == "completing"
    if challenge.state == "awaiting":
        if deps.now() >= challenge.created_at + CHALLENGE_DEADLINE - COMPLETION_GRACE:
            raise ConflictError(
                f"order {order_id}'s 3-D Secure challenge is too old to complete; "
                "the order will be aborted: ask the shopper to order again"
            )
        try:
            record = _claim(deps, order_id, digest)
        except _Moved:
            return complete_challenge(order_id, completion, deps)
    return _send_to_opayo(record, completion, deps, resuming=resuming)


def _send_to_opayo(
    record: OrderRecord,
    completion: ChallengeCompletion,
    deps: ChallengeDependencies,
    *,
    resuming: bool,
) -> OrderRecord:
    payment = record.payment
    if payment is None or not payment.transaction_id or record.vendor is None:
        raise ConflictError(f"order {record.order_id} has no Pi transaction to complete")
    pi = deps.payments(record.vendor)
    try:
        result = pi.get_transaction(payment.transaction_id) if resuming else None
        if result is None or result.status == "3DAuth":
            # Not sent before, or Opayo has not acted on an earlier attempt: send it.
            result = pi.complete_challenge(
                payment.transaction_id, completion.c_res, completion.three_ds_session_data
            )
    except OpayoRequestInvalid:
        # Opayo refused this cRes outright: nothing happened, the shopper may try again.
        _release_claim(deps, record.order_id)
        raise
    update = payment_from_pi(
        result.raw,
        vendor_tx_code=payment.vendor_tx_code,
        order_id=record.order_id,
        expected_amount=payment.amount,
    )

    def change(r: OrderRecord) -> None:
        if supersedes(update, r.payment):
            r.payment = update.model_copy(update={"amount": payment.amount})
            r.note("payment_" + update.state.value, update.status)
        settle_challenge(r, r.payment)
        r.refresh_status()

    updated = deps.store.update(record.order_id, change)
    if (
        updated.payment is not None
        and updated.payment.state is PaymentState.ABORTED
        and update.state is PaymentState.AUTHORISED
    ):
        # Given up on before Opayo authorised it: that authorisation must not stay open.
        pi.abort(payment.transaction_id)
        return deps.store.update(
            record.order_id, lambda r: r.note("authorisation_after_abandonment_aborted")
        )
    start_if_decided(updated, deps.starter)
    return updated


def settle_challenge(record: OrderRecord, payment: PaymentTransaction | None) -> None:
    """Bring an order's challenge in line with its payment (called on every payment update)."""
    challenge = record.three_d_secure
    if challenge is None or challenge.state in ("completed", "abandoned") or payment is None:
        return
    if payment.state is PaymentState.ABORTED:
        record.three_d_secure = challenge.model_copy(update={"state": "abandoned"})
        record.outcome = record.outcome or ABANDONED_OUTCOME
        record.note(ABANDONED_OUTCOME, payment.status_detail)
    elif payment.state is not PaymentState.PENDING:
        record.three_d_secure = challenge.model_copy(update={"state": "completed"})


def poll_update(
    record: OrderRecord, update: PaymentTransaction, now: datetime
) -> PaymentTransaction:
    """What the Pi status poller applies for an order whose challenge may be abandoned.

    Opayo finished the transaction without authorising it while we never forwarded a cRes, or
    it still awaits 3-D Secure past `CHALLENGE_DEADLINE`: the payment is ABORTED (nothing was
    authorised, and we will never complete it). Anything else is applied as Opayo says.
    """
    challenge = record.three_d_secure
    if challenge is None or challenge.state not in ("awaiting", "completing"):
        return update
    if update.state in (PaymentState.AUTHORISED, PaymentState.CAPTURED):
        return update
    stale_claim = challenge.state == "awaiting" or (
        challenge.claimed_at is not None and now - challenge.claimed_at > COMPLETION_GRACE
    )
    if update.state is PaymentState.PENDING:
        if now - challenge.created_at <= CHALLENGE_DEADLINE or not stale_claim:
            return update
        why = "still awaiting 3-D Secure after the deadline"
    elif challenge.state == "awaiting":
        why = f"Opayo ended it without a result from us ({update.status} {update.status_code})"
    else:
        return update  # the result of our own cRes: a decline is a decline
    return update.model_copy(
        update={
            "state": PaymentState.ABORTED,
            "status_detail": f"3-D Secure challenge abandoned: {why}",
        }
    )
