"""Opayo's Reporting & Admin API: signed XML commands, answers parsed with defusedxml.

Every request is one form field `XML=<vspaccess>...</vspaccess>` signed with the reporting
user's password (`opayo_fba.opayo.signatures`); every answer carries an `<errorcode>` that is
checked before anything else is read. These are read-only commands, so transport failures
are simply retried.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import httpx

from opayo_fba.amazon.retry import RetryPolicy, call_with_retries
from opayo_fba.model.money import Money, MoneyError
from opayo_fba.opayo.credentials import VendorCredentials
from opayo_fba.opayo.errors import (
    OpayoAuthenticationFailed,
    OpayoTransactionNotFound,
    OpayoUnavailable,
    ReportingApiError,
)
from opayo_fba.opayo.results import parse_opayo_time
from opayo_fba.opayo.signatures import build_reporting_request

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

OK = "0000"
# Errorcodes meaning "no such transaction" (Opayo's 0043 and 0048 name an unknown
# VendorTxCode / VPSTxId); they become OpayoTransactionNotFound.
NOT_FOUND_CODES = frozenset({"0043", "0048"})
AUTH_FAILED_CODES = frozenset({"0010", "0011", "0012"})
_DATE_LAYOUT = "%d/%m/%Y %H:%M:%S"
REPORTING_TIMEOUT = httpx.Timeout(20.0, connect=5.0)


def _leaves(element: Element) -> dict[str, str]:
    """The text of every leaf element below `element`, keyed by lower-case tag."""
    values: dict[str, str] = {}
    for child in element.iter():
        if child is element or len(child):
            continue
        values.setdefault(child.tag.lower(), (child.text or "").strip())
    return values


def _money(values: dict[str, str], amount_key: str = "amount") -> Money | None:
    text, currency = values.get(amount_key), values.get("currency")
    if not text or not currency:
        return None
    try:
        return Money.parse(text, currency, decimal_separator=".")
    except MoneyError:
        return None


# txstateid values (Stack Overflow 40176413, "SagePay Reporting API getTransactionDetail
# txstateid values"; the reference page repeats 14, 16 and 19).
TX_STATE_DEFERRED_AWAITING_RELEASE = "14"
TX_STATE_AUTHORISED = "16"
TX_STATE_VOIDED = "18"
TX_STATE_DEFERRED_ABORTED = "19"
TX_STATE_DEFERRED_EXPIRED = "27"
# What each instruction leaves, and the states that say for certain it was not applied.
_APPLIED_STATE = {
    "abort": TX_STATE_DEFERRED_ABORTED,
    "void": TX_STATE_VOIDED,
}
_NOT_APPLIED_STATES = {
    "release": frozenset(
        {TX_STATE_DEFERRED_AWAITING_RELEASE, TX_STATE_DEFERRED_ABORTED, TX_STATE_DEFERRED_EXPIRED}
    ),
    "abort": frozenset(
        {TX_STATE_DEFERRED_AWAITING_RELEASE, TX_STATE_AUTHORISED, TX_STATE_DEFERRED_EXPIRED}
    ),
    "void": frozenset({TX_STATE_AUTHORISED}),
}


@dataclass(frozen=True)
class TransactionDetail:
    """getTransactionDetail's answer; `raw` keeps every field Opayo sent.

    Opayo's answer has no released/aborted/voided elements: where a transaction stands is
    `txstateid` (see `instruction_applied`).
    """

    vps_tx_id: str
    vendor_tx_code: str
    transaction_type: str
    status: str
    tx_state_id: str | None
    amount: Money | None
    started: datetime | None
    batch_id: str = ""
    payment_system: str = ""
    """The card scheme (`paymentsystem`; getTransactionDetail has no `cardtype`)."""
    raw: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def transaction_id(self) -> str:
        """The Pi transactionId: the VPSTxId without its braces."""
        return self.vps_tx_id.strip().strip("{}").upper()

    @property
    def is_deferred(self) -> bool:
        return self.transaction_type.strip().upper() == "DEFERRED"

    def instruction_applied(self, instruction_type: str) -> bool | None:
        """Whether Opayo's record shows `instruction_type` (release, abort, void) applied;
        None when it cannot tell.

        A release is read from txstateid 16 on a Deferred, which is OUR ASSUMPTION (no public
        source says which txstateid a released Deferred shows), or from a `batchid` (only
        captured money is batched, so that holds whatever the value). States 14, 19 and 27
        say for certain it was not released; any other value is the other, unconfirmed
        reading and answers None, so the caller never sends a capture on a guess.
        """
        state = (self.tx_state_id or "").strip()
        if self.is_deferred == (instruction_type == "void"):
            return False  # only a Deferred is released or aborted; a Deferred is never voided
        if instruction_type == "release":
            if self.batch_id or state == TX_STATE_AUTHORISED:
                return True
        elif state == _APPLIED_STATE.get(instruction_type):
            return True
        if state in _NOT_APPLIED_STATES.get(instruction_type, frozenset()):
            return False
        return None

    @classmethod
    def from_values(cls, values: dict[str, str]) -> TransactionDetail:
        return cls(
            vps_tx_id=values.get("vpstxid", ""),
            vendor_tx_code=values.get("vendortxcode", ""),
            transaction_type=values.get("transactiontype", ""),
            status=values.get("status", ""),
            tx_state_id=values.get("txstateid") or None,
            amount=_money(values),
            started=parse_opayo_time(values.get("started")),
            batch_id=values.get("batchid", ""),
            payment_system=values.get("paymentsystem", ""),
            raw=values,
        )


@dataclass(frozen=True)
class TransactionGroup:
    """One currency of a getBatchList batch: payments and refunds, counted and summed."""

    currency: str
    payment_number: int
    payment_value: Money | None
    refund_number: int
    refund_value: Money | None


@dataclass(frozen=True)
class Batch:
    batch_id: str
    auth_processor: str
    raw: dict[str, str] = field(default_factory=dict, repr=False)
    completed: datetime | None = None
    """When Opayo closed the batch (`completed`, dd/mm/yyyy hh:mm:ss.fff)."""
    groups: tuple[TransactionGroup, ...] = ()

    @property
    def expected_rows(self) -> int | None:
        """The rows getBatchDetail should give: every payment and refund the groups count;
        None when getBatchList gave no groups."""
        if not self.groups:
            return None
        return sum(group.payment_number + group.refund_number for group in self.groups)

    @classmethod
    def from_element(cls, element: Element) -> Batch:
        values = _leaves(element)
        groups = tuple(
            _group(_leaves(child))
            for child in element.iter()
            if child.tag.lower() == "transactiongroup"
        )
        return cls(
            batch_id=values.get("batchid", ""),
            # authprocessorname is what getBatchList says and getBatchDetail takes.
            auth_processor=values.get("authprocessorname") or values.get("authprocessor", ""),
            raw=values,
            completed=parse_opayo_time(values.get("completed")),
            groups=groups,
        )


def _group(values: dict[str, str]) -> TransactionGroup:
    currency = values.get("currency", "").upper()
    return TransactionGroup(
        currency=currency,
        payment_number=_int(values.get("paymentnumber")) or 0,
        payment_value=_money({"amount": values.get("paymentvalue", ""), "currency": currency}),
        refund_number=_int(values.get("refundnumber")) or 0,
        refund_value=_money({"amount": values.get("refundvalue", ""), "currency": currency}),
    )


@dataclass(frozen=True)
class BatchTransaction:
    vps_tx_id: str
    vendor_tx_code: str
    transaction_type: str
    amount: Money | None
    raw: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def card_scheme(self) -> str:
        """`paymentsystem` or `cardtype`: which one a batch row carries is not confirmed."""
        return self.raw.get("paymentsystem") or self.raw.get("cardtype", "")


class ReportingClient:
    """Client of `POST .../access/access.htm` for one vendor."""

    def __init__(
        self,
        credentials: VendorCredentials,
        *,
        url: str = "https://live.opayo.eu.elavon.com/access/access.htm",
        http_client: httpx.Client | None = None,
        timeout: httpx.Timeout | float = REPORTING_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._credentials = credentials
        self._url = url
        self._http = http_client or httpx.Client(timeout=timeout)
        self._timeout = timeout
        self._retry = retry or RetryPolicy(attempts=4, total_seconds=20.0)

    def command(self, command: str, parameters: Sequence[tuple[str, str]] = ()) -> Element:
        """Send one signed command; returns the parsed `<vspaccess>` answer (errorcode 0000)."""
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring

        xml = build_reporting_request(
            command=command,
            vendor=self._credentials.vendor_name,
            user=self._credentials.reporting_user,
            parameters=parameters,
            password=self._credentials.reporting_password.get_secret_value(),
        )

        def send() -> httpx.Response:
            response = self._http.post(self._url, data={"XML": xml}, timeout=self._timeout)
            if response.status_code >= 500 or response.status_code == 429:
                response.raise_for_status()
            return response

        try:
            response = call_with_retries(
                send, policy=self._retry, retryable=_is_retryable, name=command
            )
        except (httpx.HTTPError, OSError) as error:
            raise OpayoUnavailable(command, 0, type(error).__name__, str(error)) from error
        if response.status_code in (401, 403):
            raise OpayoAuthenticationFailed(
                command, response.status_code, "Unauthorised", "check the reporting user"
            )
        try:
            root = fromstring(response.content)
        except (ParseError, DefusedXmlException) as error:
            # DefusedXmlException: entities or a DTD, which no genuine answer carries.
            raise ReportingApiError(
                command, response.status_code, "Unparseable", f"answer refused: {error!r}"
            ) from None
        values = {child.tag.lower(): (child.text or "").strip() for child in root}
        code = values.get("errorcode", "")
        if code != OK:
            message = values.get("error", "") or "no error text"
            error_class: type[ReportingApiError] = ReportingApiError
            if code in NOT_FOUND_CODES:
                raise OpayoTransactionNotFound(command, response.status_code, code, message)
            if code in AUTH_FAILED_CODES:
                raise OpayoAuthenticationFailed(command, response.status_code, code, message)
            raise error_class(command, response.status_code, code or "missing", message)
        return root

    def get_transaction_detail(
        self, *, vendor_tx_code: str | None = None, vps_tx_id: str | None = None
    ) -> TransactionDetail:
        """One transaction by vendorTxCode or VPSTxId (a Pi transactionId is accepted)."""
        if (vendor_tx_code is None) == (vps_tx_id is None):
            raise ValueError("give exactly one of vendor_tx_code or vps_tx_id")
        if vendor_tx_code is not None:
            parameters = [("vendortxcode", vendor_tx_code)]
        else:
            assert vps_tx_id is not None
            braced = vps_tx_id if vps_tx_id.startswith("{") else "{" + vps_tx_id.upper() + "}"
            parameters = [("vpstxid", braced)]
        root = self.command("getTransactionDetail", parameters)
        return TransactionDetail.from_values(_leaves(root))

    def find_transaction(self, vendor_tx_code: str) -> TransactionDetail | None:
        """The transaction registered under `vendor_tx_code`, or None if Opayo has none."""
        try:
            return self.get_transaction_detail(vendor_tx_code=vendor_tx_code)
        except OpayoTransactionNotFound:
            return None

    def get_batch_list(self, start: datetime, end: datetime) -> list[Batch]:
        root = self.command(
            "getBatchList",
            [("startdate", start.strftime(_DATE_LAYOUT)), ("enddate", end.strftime(_DATE_LAYOUT))],
        )
        return [Batch.from_element(e) for e in root.iter() if e.tag.lower() == "batch"]

    def get_batch_detail(
        self,
        batch_id: str,
        auth_processor: str,
        *,
        expected_rows: int | None = None,
        page_size: int = 500,
    ) -> list[BatchTransaction]:
        """Every transaction in a settlement batch, page by page (see `page_batch_detail`)."""
        transactions: list[BatchTransaction] = []
        for page in page_batch_detail(self, batch_id, auth_processor, expected_rows, page_size):
            transactions.extend(
                BatchTransaction(
                    vps_tx_id=values.get("vpstxid", ""),
                    vendor_tx_code=values.get("vendortxcode", ""),
                    transaction_type=values.get("transactiontype", ""),
                    amount=_money(values),
                    raw=values,
                )
                for values in (_leaves(row) for row in page)
            )
        return transactions


class _Commands(Protocol):
    def command(self, command: str, parameters: Sequence[tuple[str, str]] = ()) -> Element: ...


def page_batch_detail(
    source: _Commands,
    batch_id: str,
    auth_processor: str,
    expected_rows: int | None,
    page_size: int = 500,
) -> Iterator[list[Element]]:
    """The <transaction> rows of a batch, one list per getBatchDetail page.

    Whether a page carries `totalrows` is not confirmed, so the count to reach is the one
    getBatchList gave (`expected_rows`, payments + refunds of its transactiongroups), else
    `totalrows`, else the rows run out (a short page). Each page asks from the row after the
    last one received, so a page smaller than asked for (Opayo's own limit) loses nothing.
    A page that brings nothing before the count is met raises ReportingApiError.
    """
    received = 0
    while True:
        root = source.command(
            "getBatchDetail",
            [
                ("batchid", batch_id),
                ("authprocessor", auth_processor),
                ("startrow", str(received + 1)),
                ("endrow", str(received + page_size)),
            ],
        )
        rows = [element for element in root.iter() if element.tag.lower() == "transaction"]
        target = (
            expected_rows if expected_rows is not None else _int(_leaves(root).get("totalrows"))
        )
        if rows:
            received += len(rows)
            yield rows
        if target is None:
            if len(rows) < page_size:
                return
        elif received >= target:
            return
        elif not rows:
            raise ReportingApiError(
                "getBatchDetail",
                200,
                "ShortBatch",
                f"batch {batch_id} stopped at row {received} of {target}",
            )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, httpx.TimeoutException | httpx.TransportError)
