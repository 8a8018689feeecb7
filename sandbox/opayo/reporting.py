"""Opayo's Reporting & Admin API: `POST /access/access.htm` with one form field `XML`.

Requests are parsed with defusedxml and must be signed (opayo_fba.opayo.signatures). Answers
are always HTTP 200 XML: `<errorcode>0000</errorcode>` and the payload, or another error code
with `<error>` saying what is wrong. Dates are `dd/mm/yyyy hh:mm:ss` in UTC; amounts are
decimal strings in the currency's major unit, as the real API gives them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opayo_fba.opayo.signatures import verify_reporting_signature
from sandbox.common.faults import with_faults
from sandbox.opayo.context import SandboxContext
from sandbox.opayo.forms import FormError, read_form
from sandbox.opayo.money import to_decimal_string
from sandbox.opayo.settlement import batches, settle
from sandbox.opayo.state import Record, parse_iso
from sandbox.opayo.transactions import captured_amount, refunded_amount
from sandbox.opayo.tx_states import tx_state_id

DATE_FORMAT = "%d/%m/%Y %H:%M:%S"
MAX_ROWS = 1000

# Error codes. 0010-0012 and 0043/0048 follow the codes the connector expects from Opayo;
# the others are the sandbox's own (docs/sandbox-opayo.md lists them all).
OK = "0000"
MALFORMED = "0001"
BAD_PARAMETER = "0004"
UNKNOWN_COMMAND = "0008"
UNKNOWN_USER = "0010"
BAD_SIGNATURE = "0011"
PASSWORD_SENT = "0012"
VENDOR_TX_CODE_NOT_FOUND = "0043"
VPS_TX_ID_NOT_FOUND = "0048"
BATCH_NOT_FOUND = "0050"


class ReportingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _xml_response(
    context: SandboxContext, code: str, error: str, payload: list[ET.Element]
) -> Response:
    root = ET.Element("vspaccess")
    ET.SubElement(root, "errorcode").text = code
    if error:
        ET.SubElement(root, "error").text = error
    ET.SubElement(root, "timestamp").text = context.clock.now().strftime(DATE_FORMAT)
    root.extend(payload)
    return Response(ET.tostring(root, encoding="unicode"), media_type="application/xml")


def reporting_fault_response(status: int, code: str, message: str) -> Response:
    body = (
        f"<vspaccess><errorcode>{status}</errorcode><error>{message} ({code})</error></vspaccess>"
    )
    return Response(body, status_code=status, media_type="application/xml")


def _element(parent: ET.Element, name: str, value: object) -> ET.Element:
    child = ET.SubElement(parent, name)
    child.text = "" if value is None else str(value)
    return child


def _date(text: str) -> str:
    return parse_iso(text).strftime(DATE_FORMAT)


class Params:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values = dict(pairs)

    def text(self, name: str, *, required: bool = True) -> str:
        value = self._values.get(name, "").strip()
        if required and not value:
            raise ReportingError(BAD_PARAMETER, f"The {name} parameter is missing")
        return value

    def date(self, name: str) -> datetime:
        value = self.text(name)
        try:
            return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError as error:
            raise ReportingError(
                BAD_PARAMETER, f"The {name} parameter must be dd/mm/yyyy hh:mm:ss, not {value!r}"
            ) from error

    def rows(self) -> tuple[int, int]:
        try:
            start = int(self.text("startrow", required=False) or 1)
            end = int(self.text("endrow", required=False) or start + MAX_ROWS - 1)
        except ValueError as error:
            raise ReportingError(BAD_PARAMETER, "startrow and endrow must be integers") from error
        if start < 1 or end < start:
            raise ReportingError(BAD_PARAMETER, "startrow must be >= 1 and endrow >= startrow")
        return start, min(end, start + MAX_ROWS - 1)


def _transaction_element(context: SandboxContext, record: Record, row: int | None) -> ET.Element:
    element = ET.Element("transaction")
    if row is not None:
        _element(element, "rownumber", row)
    card = record.get("card") or {}
    currency = record["currency"]
    server = record.get("server") or {}
    values: list[tuple[str, object]] = [
        ("vpstxid", record["vpsTxId"]),
        ("vendortxcode", record["vendorTxCode"]),
        ("transactiontype", record["transactionType"]),
        ("txstateid", tx_state_id(record)),
        ("integration", record["integration"]),
        ("status", server.get("status") or record["status"].upper()),
        ("statuscode", record["statusCode"]),
        ("statusdetail", record["statusDetail"]),
        ("amount", to_decimal_string(record["amount"], currency)),
        ("currency", currency),
        ("started", _date(record["createdAt"])),
        ("cardtype", card.get("serverCardType", "")),
        ("last4digits", card.get("lastFourDigits", "")),
        ("authprocessor", context.options.acquirer(card.get("serverCardType", ""))),
        ("released", "YES" if record["released"] else "NO"),
        (
            "releasedamount",
            to_decimal_string(record["releasedAmount"], currency) if record["released"] else "",
        ),
        ("aborted", "YES" if record["aborted"] else "NO"),
        ("voided", "YES" if record["voided"] else "NO"),
        ("capturedamount", to_decimal_string(captured_amount(record), currency)),
        ("refundedamount", to_decimal_string(refunded_amount(context, record), currency)),
        (
            "relatedvpstxid",
            "{" + record["referenceTransactionId"] + "}"
            if record["referenceTransactionId"]
            else "",
        ),
        ("batchid", record["batchId"] or ""),
    ]
    for name, value in values:
        _element(element, name, value)
    return element


def get_transaction_detail(context: SandboxContext, params: Params) -> list[ET.Element]:
    vendor_tx_code = params.text("vendortxcode", required=False)
    vps_tx_id = params.text("vpstxid", required=False)
    if not vendor_tx_code and not vps_tx_id:
        raise ReportingError(BAD_PARAMETER, "Give vendortxcode or vpstxid")
    settle(context)
    if vendor_tx_code:
        record = context.state.transaction_by_vendor_tx_code(vendor_tx_code)
    else:
        record = context.state.transaction(vps_tx_id.strip("{}"))
    if record is None:
        code = VENDOR_TX_CODE_NOT_FOUND if vendor_tx_code else VPS_TX_ID_NOT_FOUND
        raise ReportingError(code, "No transaction matches")
    return [_transaction_element(context, record, None)]


def _page(name: str, total: int, start: int, end: int) -> ET.Element:
    element = ET.Element(name)
    _element(element, "totalrows", total)
    _element(element, "startrow", start)
    _element(element, "endrow", min(end, total))
    return element


def get_transaction_list(context: SandboxContext, params: Params) -> list[ET.Element]:
    start_date, end_date = params.date("startdate"), params.date("enddate")
    start, end = params.rows()
    settle(context)
    matching = [
        record
        for record in context.state.transactions()
        if start_date <= parse_iso(record["createdAt"]) <= end_date
    ]
    page = _page("transactions", len(matching), start, end)
    for row, record in enumerate(matching[start - 1 : end], start=start):
        page.append(_transaction_element(context, record, row))
    return [page]


def _batch_summary(batch: Record) -> ET.Element:
    element = ET.Element("batch")
    _element(element, "batchid", batch["batchId"])
    _element(element, "authprocessor", batch["authProcessor"])
    _element(element, "businessdate", batch["businessDate"])
    _element(element, "settledate", _date(batch["settledAt"]))
    _element(element, "transactioncount", len(batch["items"]))
    totals = ET.SubElement(element, "totals")
    for currency, total in sorted(batch["totals"].items()):
        entry = ET.SubElement(totals, "total")
        _element(entry, "currency", currency)
        _element(entry, "count", total["count"])
        for name in ("gross", "fees", "net"):
            _element(entry, name, to_decimal_string(total[name], currency))
    return element


def get_batch_list(context: SandboxContext, params: Params) -> list[ET.Element]:
    start_date, end_date = params.date("startdate"), params.date("enddate")
    listed = [b for b in batches(context) if start_date <= parse_iso(b["settledAt"]) <= end_date]
    element = ET.Element("batches")
    _element(element, "totalrows", len(listed))
    for batch in listed:
        element.append(_batch_summary(batch))
    return [element]


def get_batch_detail(context: SandboxContext, params: Params) -> list[ET.Element]:
    batch_id = params.text("batchid")
    processor = params.text("authprocessor", required=False)
    start, end = params.rows()
    found = [b for b in batches(context) if str(b["batchId"]) == batch_id]
    if not found or (processor and found[0]["authProcessor"].lower() != processor.lower()):
        raise ReportingError(BATCH_NOT_FOUND, f"No batch {batch_id} for that authprocessor")
    batch = found[0]
    element = _batch_summary(batch)
    page = _page("transactions", len(batch["items"]), start, end)
    for row, item in enumerate(batch["items"][start - 1 : end], start=start):
        entry = ET.SubElement(page, "transaction")
        currency = item["currency"]
        _element(entry, "rownumber", row)
        _element(entry, "vpstxid", item["vpsTxId"])
        _element(entry, "vendortxcode", item["vendorTxCode"])
        _element(entry, "transactiontype", item["transactionType"])
        _element(entry, "cardtype", item["cardType"])
        _element(entry, "currency", currency)
        for name in ("amount", "fee", "net"):
            _element(entry, name, to_decimal_string(item[name], currency))
        _element(entry, "transactiondate", _date(item["settleableAt"]))
    element.append(page)
    return [element]


COMMANDS: dict[str, Callable[[SandboxContext, Params], list[ET.Element]]] = {
    "getTransactionDetail": get_transaction_detail,
    "getTransactionList": get_transaction_list,
    "getBatchList": get_batch_list,
    "getBatchDetail": get_batch_detail,
}


def _parse(document: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    try:
        root = fromstring(document)
    except (ParseError, DefusedXmlException) as error:
        raise ReportingError(MALFORMED, f"The XML is not well-formed: {error}") from error
    if root.tag != "vspaccess":
        raise ReportingError(MALFORMED, "The root element must be <vspaccess>")
    header: dict[str, str] = {}
    parameters: list[tuple[str, str]] = []
    for child in root:
        if len(child):
            raise ReportingError(MALFORMED, f"<{child.tag}> must hold text, not elements")
        text = child.text or ""
        if child.tag in ("command", "vendor", "user", "signature", "password"):
            header[child.tag] = text
        else:
            parameters.append((child.tag, text))
    return header, parameters


def _handle(context: SandboxContext, document: Any) -> list[ET.Element]:
    if not isinstance(document, str) or not document.strip():
        raise ReportingError(MALFORMED, "The form field XML is missing")
    header, parameters = _parse(document)
    for name in ("command", "vendor", "user"):
        if not header.get(name):
            raise ReportingError(MALFORMED, f"The <{name}> element is missing")
    if "password" in header:
        raise ReportingError(
            PASSWORD_SENT, "Send <signature>, never <password>: sign the request instead"
        )
    options = context.options
    known = header["vendor"].lower() == options.vendor.lower() and header["user"] == (
        options.reporting_user
    )
    if not known:
        raise ReportingError(UNKNOWN_USER, "Authentication failed: unknown vendor or user")
    signed = verify_reporting_signature(
        command=header["command"],
        vendor=header["vendor"],
        user=header["user"],
        parameters=parameters,
        password=options.reporting_password,
        signature=header.get("signature", ""),
    )
    if not signed:
        raise ReportingError(BAD_SIGNATURE, "Authentication failed: the signature is wrong")
    command = COMMANDS.get(header["command"])
    if command is None:
        raise ReportingError(
            UNKNOWN_COMMAND,
            f"Unknown command {header['command']!r}; use one of {', '.join(COMMANDS)}",
        )
    return command(context, Params(parameters))


async def access(request: Request) -> Response:
    context: SandboxContext = request.app.state.opayo
    try:
        form = await read_form(request)
        payload = _handle(context, form.get("XML"))
    except FormError as error:
        return _xml_response(context, MALFORMED, f"The request is not a form: {error}", [])
    except ReportingError as error:
        return _xml_response(context, error.code, error.message, [])
    return _xml_response(context, OK, "", payload)


def reporting_routes(lost_response_hang_seconds: float) -> list[Route]:
    endpoint = with_faults(
        "reporting",
        access,
        reporting_fault_response,
        lost_response_hang_seconds=lost_response_hang_seconds,
    )
    return [Route("/access/access.htm", endpoint, methods=["POST"])]
