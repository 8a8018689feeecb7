"""Opayo's Reporting & Admin API: signed XML commands, answers parsed with defusedxml.

Every request is one form field `XML=<vspaccess>...</vspaccess>` signed with the reporting
user's password (`opayo_fba.opayo.signatures`); every answer carries an `<errorcode>` that is
checked before anything else is read. These are read-only commands, so transport failures
are simply retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

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


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().upper() in ("YES", "TRUE", "1", "Y")


@dataclass(frozen=True)
class TransactionDetail:
    """getTransactionDetail's answer; `raw` keeps every field Opayo sent."""

    vps_tx_id: str
    vendor_tx_code: str
    transaction_type: str
    status: str
    tx_state_id: str | None
    amount: Money | None
    started: datetime | None
    released: bool | None = None
    released_amount: Money | None = None
    aborted: bool | None = None
    voided: bool | None = None
    raw: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def transaction_id(self) -> str:
        """The Pi transactionId: the VPSTxId without its braces."""
        return self.vps_tx_id.strip().strip("{}").upper()

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
            released=_flag(values.get("released")),
            released_amount=_money(values, "releasedamount"),
            aborted=_flag(values.get("aborted")),
            voided=_flag(values.get("voided")),
            raw=values,
        )


@dataclass(frozen=True)
class Batch:
    batch_id: str
    auth_processor: str
    raw: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class BatchTransaction:
    vps_tx_id: str
    vendor_tx_code: str
    transaction_type: str
    amount: Money | None
    raw: dict[str, str] = field(default_factory=dict, repr=False)


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
        batches: list[Batch] = []
        for element in root.iter():
            if element.tag.lower() != "batch":
                continue
            values = _leaves(element)
            batches.append(
                Batch(
                    batch_id=values.get("batchid", ""),
                    auth_processor=values.get("authprocessor", ""),
                    raw=values,
                )
            )
        return batches

    def get_batch_detail(
        self, batch_id: str, auth_processor: str, *, page_size: int = 500
    ) -> list[BatchTransaction]:
        """Every transaction in a settlement batch, fetched `page_size` rows at a time."""
        transactions: list[BatchTransaction] = []
        start_row = 1
        while True:
            root = self.command(
                "getBatchDetail",
                [
                    ("batchid", batch_id),
                    ("authprocessor", auth_processor),
                    ("startrow", str(start_row)),
                    ("endrow", str(start_row + page_size - 1)),
                ],
            )
            page = [
                _leaves(element) for element in root.iter() if element.tag.lower() == "transaction"
            ]
            transactions.extend(
                BatchTransaction(
                    vps_tx_id=values.get("vpstxid", ""),
                    vendor_tx_code=values.get("vendortxcode", ""),
                    transaction_type=values.get("transactiontype", ""),
                    amount=_money(values),
                    raw=values,
                )
                for values in page
            )
            total = _int(_leaves(root).get("totalrows"))
            start_row += page_size
            if len(page) < page_size or (total is not None and start_row > total):
                return transactions


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, httpx.TimeoutException | httpx.TransportError)
