"""3-D Secure challenges on the card path: the browser data, the 202, the completion route's
rules (binding, idempotency, conflicts, refusals) and abandonment. In-memory Pi; the real
sandbox path is tested in tests/integration and tests/e2e."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from opayo_fba.convert.opayo_pi import payment_from_pi
from opayo_fba.errors import ConflictError, InvalidInputError
from opayo_fba.intake.orders import IntakeDependencies, OrderSubmission, submit_order
from opayo_fba.intake.payments import apply_payment_update
from opayo_fba.intake.three_d_secure import (
    ABANDONED_OUTCOME,
    CHALLENGE_DEADLINE,
    COMPLETION_GRACE,
    ChallengeCompletion,
    ChallengeDependencies,
    complete_challenge,
    poll_update,
    session_data_for,
    submission_reply,
)
from opayo_fba.model import OrderStatus, PaymentState
from opayo_fba.model.three_d_secure import StrongCustomerAuthentication
from opayo_fba.opayo.errors import OpayoRequestInvalid
from opayo_fba.opayo.pi import CardPayment
from opayo_fba.opayo.results import PiTransaction
from tests.fixtures.opayo_sandbox import BROWSER_DATA
from tests.fixtures.saga_world import World, make_order

ORDER = "W-3DS-1"


@dataclass
class FakeStarter:
    started: list[str] = field(default_factory=list)

    def start(self, order_id: str) -> bool:
        self.started.append(order_id)
        return True


@dataclass
class ChallengingPi:
    """Answers every card payment with a challenge; the cRes "GOOD" authorises it."""

    created: list[CardPayment] = field(default_factory=list)
    completions: list[tuple[str, str, str | None]] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    refuse_cres: bool = False
    reads: list[str] = field(default_factory=list)
    read_back_status: str = "3DAuth"

    def _body(self, status: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "transactionId": "TX-1",
            "transactionType": "Deferred",
            "status": status,
            "statusCode": {"3DAuth": "2021", "Ok": "0000"}.get(status, "4026"),
            "statusDetail": status,
            "amount": {"totalAmount": 2500, "saleAmount": 2500, "surchargeAmount": 0},
            "currency": "GBP",
        }
        if status == "3DAuth":
            body.update(acsUrl="https://acs.example/challenge", cReq="eyJjcmVxIjoxfQ")
        return body

    def create_payment(self, payment: CardPayment) -> PiTransaction:
        self.created.append(payment)
        return PiTransaction.from_pi(self._body("3DAuth"), payment.vendor_tx_code)

    def complete_challenge(
        self, transaction_id: str, c_res: str, session_data: str | None = None
    ) -> PiTransaction:
        self.completions.append((transaction_id, c_res, session_data))
        if self.refuse_cres:
            raise OpayoRequestInvalid("complete3DSecureChallenge", 422, "1005", "bad", "cRes")
        return PiTransaction.from_pi(self._body("Ok" if c_res == "GOOD" else "Rejected"))

    def abort(self, transaction_id: str) -> None:
        self.aborted.append(transaction_id)

    def get_transaction(self, transaction_id: str) -> PiTransaction:
        self.reads.append(transaction_id)
        return PiTransaction.from_pi(self._body(self.read_back_status))


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


def _submission(**sca: Any) -> OrderSubmission:
    browser = {**BROWSER_DATA, **sca}
    return OrderSubmission.model_validate(
        {
            "order": make_order(ORDER).model_dump(mode="json"),
            "vendor": "sandbox",
            "sellerAccount": "uk-main",
            "payment": {
                "type": "pi_card",
                "merchantSessionKey": "MSK",
                "cardIdentifier": "CID",
                "strongCustomerAuthentication": browser,
            },
        }
    )


@pytest.fixture
def challenged(world: World) -> tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]:
    pi, starter, clock = ChallengingPi(), FakeStarter(), Clock()
    intake = IntakeDependencies(
        store=world.store,
        payments=lambda vendor: pi,
        starter=starter,
        card_payment=CardPayment,
        seal=lambda text, order_id: "sealed",
    )
    submit_order(_submission(), intake)
    deps = ChallengeDependencies(
        store=world.store, payments=lambda vendor: pi, starter=starter, now=clock
    )
    return pi, starter, deps, clock


def _completion(c_res: str = "GOOD", session: str | None = None) -> ChallengeCompletion:
    return ChallengeCompletion.model_validate(
        {"cRes": c_res, "threeDSSessionData": session or session_data_for(ORDER)}
    )


def test_a_card_order_without_browser_data_is_refused_naming_the_field() -> None:
    body = _submission().model_dump(mode="json", by_alias=True)
    body["payment"] = {"type": "pi_card", "merchantSessionKey": "M", "cardIdentifier": "C"}
    with pytest.raises(ValidationError) as caught:
        OrderSubmission.model_validate(body)
    [error] = caught.value.errors()
    assert error["loc"][-1] == "strongCustomerAuthentication"
    assert error["type"] == "missing"


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("browserIP", "not-an-ip"),
        ("notificationURL", "ftp://shop.example/x"),
        ("challengeWindowSize", "Huge"),
        ("browserColorDepth", 23),
        ("browserTZ", 5000),
    ],
)
def test_browser_fields_are_checked(field_name: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        _submission(**{field_name: value})
    assert field_name in str(caught.value)


def test_javascript_on_needs_the_screen_fields_and_pi_gets_pi_names() -> None:
    data = {k: v for k, v in BROWSER_DATA.items() if k != "browserScreenWidth"}
    with pytest.raises(ValidationError, match="browserScreenWidth"):
        StrongCustomerAuthentication.model_validate(data)
    pi = StrongCustomerAuthentication.model_validate(BROWSER_DATA).to_pi()
    assert pi == {**BROWSER_DATA, "browserColorDepth": "24"}


def test_the_pi_request_carries_the_browser_data_and_the_shop_gets_202(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    pi, starter, _, _ = challenged
    [created] = pi.created
    assert (
        created.to_pi()["strongCustomerAuthentication"]["notificationURL"]
        == (BROWSER_DATA["notificationURL"])
    )
    record = world.store.get(ORDER)
    assert record.payment is not None
    assert record.payment.state is PaymentState.PENDING
    assert starter.started == []  # no saga while the shopper is at the bank
    status, body = submission_reply(record, existed=False)
    assert status == 202
    assert body["challenge"] == {
        "acsUrl": "https://acs.example/challenge",
        "cReq": "eyJjcmVxIjoxfQ",
        "threeDSSessionData": session_data_for(ORDER),
        "completeWith": f"/orders/{ORDER}/3ds-challenge",
    }


def test_completion_authorises_starts_the_saga_and_a_repeat_is_answered_the_same(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    pi, starter, deps, _ = challenged
    done = complete_challenge(ORDER, _completion(), deps)
    assert done.payment is not None
    assert done.payment.state is PaymentState.AUTHORISED
    assert done.three_d_secure is not None
    assert done.three_d_secure.state == "completed"
    assert starter.started == [ORDER]
    again = complete_challenge(ORDER, _completion(), deps)
    assert again.public_view() == done.public_view()
    assert len(pi.completions) == 1  # the repeat sent nothing to Opayo
    with pytest.raises(ConflictError, match="another cRes"):
        complete_challenge(ORDER, _completion("OTHER"), deps)
    assert submission_reply(world.store.get(ORDER), existed=True)[0] == 200


def test_a_failed_challenge_is_a_declined_payment_the_saga_records(
    challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock],
) -> None:
    _, starter, deps, _ = challenged
    done = complete_challenge(ORDER, _completion("BAD"), deps)
    assert done.payment is not None
    assert done.payment.state is PaymentState.DECLINED
    assert starter.started == [ORDER]


def test_bad_input_changes_nothing(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    pi, _, deps, _ = challenged
    before = world.store.get(ORDER)
    with pytest.raises(InvalidInputError, match="threeDSSessionData"):
        complete_challenge(ORDER, _completion(session=session_data_for("W-OTHER")), deps)
    with pytest.raises(ValidationError):
        ChallengeCompletion.model_validate({"cRes": "a b", "threeDSSessionData": "x"})
    with pytest.raises(ValidationError):
        ChallengeCompletion.model_validate({"cRes": "x", "threeDSSessionData": "x", "pan": 1})
    assert world.store.get(ORDER).version == before.version
    assert pi.completions == []


def test_a_cres_opayo_refuses_frees_the_challenge_for_another_try(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    pi, _, deps, _ = challenged
    pi.refuse_cres = True
    with pytest.raises(OpayoRequestInvalid):
        complete_challenge(ORDER, _completion("TYPO"), deps)
    challenge = world.store.get(ORDER).three_d_secure
    assert challenge is not None
    assert challenge.state == "awaiting"
    pi.refuse_cres = False
    assert complete_challenge(ORDER, _completion(), deps).payment is not None


def test_an_order_with_no_challenge_or_too_old_a_challenge_is_a_conflict(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    pi, _, deps, clock = challenged
    challenge = world.store.get(ORDER).three_d_secure
    assert challenge is not None
    clock.now = challenge.created_at + CHALLENGE_DEADLINE - COMPLETION_GRACE
    with pytest.raises(ConflictError, match="too old"):
        complete_challenge(ORDER, _completion(), deps)
    assert pi.completions == []
    world.add_order(make_order("W-PLAIN"), None)
    with pytest.raises(ConflictError, match="not waiting"):
        complete_challenge("W-PLAIN", _completion(session=session_data_for("W-PLAIN")), deps)


def _pi_update(world: World, status: str) -> Any:
    record = world.store.get(ORDER)
    assert record.payment is not None
    body = ChallengingPi()._body(status)
    return record, payment_from_pi(
        body, vendor_tx_code=record.payment.vendor_tx_code, order_id=ORDER
    )


def test_opayo_ending_an_unanswered_challenge_aborts_the_order(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    _, starter, deps, clock = challenged
    record, update = _pi_update(world, "Rejected")
    aborted = poll_update(record, update, clock.now)
    assert aborted.state is PaymentState.ABORTED
    result = apply_payment_update(world.store, starter, aborted)
    assert (result.outcome, result.saga_started) == ("applied", False)
    final = world.store.get(ORDER)
    assert final.outcome == ABANDONED_OUTCOME
    assert final.status is OrderStatus.CANCELLED
    assert final.three_d_secure is not None
    assert final.three_d_secure.state == "abandoned"
    with pytest.raises(ConflictError, match="abandoned"):
        complete_challenge(ORDER, _completion(), deps)


def test_a_challenge_still_waiting_is_left_until_the_deadline(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    _, _, _, clock = challenged
    record, update = _pi_update(world, "3DAuth")
    assert poll_update(record, update, clock.now).state is PaymentState.PENDING
    late = clock.now + CHALLENGE_DEADLINE + timedelta(seconds=1)
    assert poll_update(record, update, late).state is PaymentState.ABORTED
    # An authorisation is never turned into an abort.
    record, ok = _pi_update(world, "Ok")
    assert poll_update(record, ok, late).state is PaymentState.AUTHORISED


def test_a_completion_in_flight_is_not_aborted_under_it(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    _, _, _, clock = challenged

    def claim(record: Any) -> None:
        assert record.three_d_secure is not None
        record.three_d_secure = record.three_d_secure.model_copy(
            update={"state": "completing", "c_res_digest": "d", "claimed_at": clock.now}
        )

    world.store.update(ORDER, claim)
    record, pending = _pi_update(world, "3DAuth")
    late = clock.now + CHALLENGE_DEADLINE + timedelta(seconds=1)
    claimed_late = copy.deepcopy(record)
    assert claimed_late.three_d_secure is not None
    claimed_late.three_d_secure = claimed_late.three_d_secure.model_copy(
        update={"claimed_at": late}
    )
    assert poll_update(claimed_late, pending, late).state is PaymentState.PENDING
    # A claim older than the grace died with its Lambda: the challenge is aborted.
    assert poll_update(record, pending, late).state is PaymentState.ABORTED
    # A decline after our own cRes is a decline, not an abandonment.
    record, rejected = _pi_update(world, "Rejected")
    assert poll_update(record, rejected, clock.now).state is PaymentState.DECLINED


def test_a_completion_that_died_is_resumed_from_opayos_state_not_sent_again(
    world: World, challenged: tuple[ChallengingPi, FakeStarter, ChallengeDependencies, Clock]
) -> None:
    pi, starter, deps, clock = challenged

    def died_after_sending(record: Any) -> None:
        assert record.three_d_secure is not None
        record.three_d_secure = record.three_d_secure.model_copy(
            update={
                "state": "completing",
                "c_res_digest": hashlib.sha256(b"GOOD").hexdigest(),
                "claimed_at": clock.now,
            }
        )

    world.store.update(ORDER, died_after_sending)
    pi.read_back_status = "Ok"  # the earlier attempt reached Opayo
    done = complete_challenge(ORDER, _completion(), deps)
    assert done.payment is not None
    assert done.payment.state is PaymentState.AUTHORISED
    assert (pi.reads, pi.completions) == (["TX-1"], [])
    assert starter.started == [ORDER]
