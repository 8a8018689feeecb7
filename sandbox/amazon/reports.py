"""Reports 2021-06-30: createReport (inventory types), getReports, getReport, getReportDocument.

A requested report is IN_QUEUE, IN_PROGRESS after IN_PROGRESS_AFTER seconds and DONE after
DONE_AFTER seconds of sandbox time, when its document is generated from the current state and
REPORT_PROCESSING_FINISHED is published. Documents are served GZIP-compressed by the sandbox
itself at a "presigned" URL that expires after DOCUMENT_URL_SECONDS (sandbox clock).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.amazon import notifications
from sandbox.amazon.errors import invalid_input, not_found
from sandbox.amazon.money import to_decimal
from sandbox.amazon.state import AmazonState, ApiCall
from sandbox.amazon.timefmt import iso, parse_iso, parse_param

IN_PROGRESS_AFTER = 30
DONE_AFTER = 90
DOCUMENT_URL_SECONDS = 300
SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
INVENTORY_REPORT_TYPES = frozenset(
    {
        "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
        "GET_FBA_MYI_ALL_INVENTORY_DATA",
        "GET_AFN_INVENTORY_DATA",
    }
)
# Flat-file documents are served as Amazon serves listings and inventory reports: encoded in
# Cp1252 and saying so in the Content-Type (amzn/selling-partner-api-models #2748); a
# character Cp1252 lacks becomes "?" (#4031).
DOCUMENT_CHARSET = "Cp1252"
DOCUMENT_CONTENT_TYPE = f"text/plain;charset={DOCUMENT_CHARSET}"
PROCESSING_STATUSES = frozenset({"CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE"})
_MYI_COLUMNS = (
    "sku",
    "fnsku",
    "asin",
    "product-name",
    "condition",
    "your-price",
    "mfn-listing-exists",
    "mfn-fulfillable-quantity",
    "afn-listing-exists",
    "afn-warehouse-quantity",
    "afn-fulfillable-quantity",
    "afn-unsellable-quantity",
    "afn-reserved-quantity",
    "afn-total-quantity",
)


def _inventory_document(state: AmazonState, report_type: str, marketplaces: list[str]) -> str:
    """The stock of the pools the report's marketplaces draw on (sandbox/amazon/pools.py)."""
    pools = dict.fromkeys(state.pool_for(m) for m in marketplaces)
    stock = sorted(
        (r for pool in pools for r in state.stock_in(pool)), key=lambda r: (r["sku"], r["pool"])
    )
    if report_type == "GET_AFN_INVENTORY_DATA":
        lines = [
            "seller-sku\tfulfillment-channel-sku\tasin\tcondition-type\t"
            "Warehouse-Condition-code\tQuantity Available"
        ]
        lines += [
            f"{r['sku']}\tX00{r['asin'][-7:]}\t{r['asin']}\tNewItem\tSELLABLE\t{r['quantity']}"
            for r in stock
        ]
    else:
        lines = ["\t".join(_MYI_COLUMNS)]
        for r in stock:
            if report_type.endswith("UNSUPPRESSED_INVENTORY_DATA") and r["quantity"] == 0:
                continue
            q = r["quantity"]
            price = to_decimal(r["unit_price_minor"], r["currency"])
            lines.append(
                f"{r['sku']}\tX00{r['asin'][-7:]}\t{r['asin']}\t{r['title']}\tNew\t{price}\tNo\t0\t"
                f"Yes\t{q}\t{q}\t0\t0\t{q}"
            )
    return "\n".join(lines) + "\n"


def store_document(state: AmazonState, content: str) -> str:
    document_id = f"amzn1.spdoc.1.4.eu.sandbox-{state.next_number('document'):08d}"
    state.store.put("document", document_id, {"content": content})
    return document_id


def add_finished_report(
    state: AmazonState,
    report_type: str,
    content: str,
    created: datetime,
    data_start: datetime,
    data_end: datetime,
) -> dict[str, Any]:
    """A report Amazon generated on its own schedule (settlements): DONE from the start."""
    report: dict[str, Any] = {
        "reportId": str(50000000000 + state.next_number("report")),
        "reportType": report_type,
        "marketplaceIds": [state.credentials.marketplace_id],
        "dataStartTime": iso(data_start),
        "dataEndTime": iso(data_end),
        "createdTime": iso(created),
        "processingStatus": "DONE",
        "processingStartTime": iso(created),
        "processingEndTime": iso(created),
        "reportDocumentId": store_document(state, content),
    }
    state.store.put("report", report["reportId"], report)
    state.publish(
        "REPORT_PROCESSING_FINISHED", notifications.report_processing_finished(state, report)
    )
    return report


def tick(state: AmazonState, now: datetime) -> None:
    for report in state.in_flight("report"):
        created = parse_iso(report["createdTime"])
        if (
            report["processingStatus"] == "IN_QUEUE"
            and created + timedelta(seconds=IN_PROGRESS_AFTER) <= now
        ):
            report["processingStatus"] = "IN_PROGRESS"
            report["processingStartTime"] = iso(created + timedelta(seconds=IN_PROGRESS_AFTER))
            state.store.put("report", report["reportId"], report)
        if (
            report["processingStatus"] == "IN_PROGRESS"
            and created + timedelta(seconds=DONE_AFTER) <= now
        ):
            report["processingStatus"] = "DONE"
            state.untrack("report", report["reportId"])
            report["processingEndTime"] = iso(created + timedelta(seconds=DONE_AFTER))
            report["reportDocumentId"] = store_document(
                state, _inventory_document(state, report["reportType"], report["marketplaceIds"])
            )
            state.store.put("report", report["reportId"], report)
            state.publish(
                "REPORT_PROCESSING_FINISHED",
                notifications.report_processing_finished(state, report),
            )


def create_report(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    body = call.body
    report_type = body["reportType"]
    if report_type == SETTLEMENT_REPORT_TYPE:
        raise invalid_input(
            f"{report_type} is generated by Amazon on its own schedule and cannot be requested; "
            "list it with getReports.",
            "reportType",
        )
    if report_type not in INVENTORY_REPORT_TYPES:
        raise invalid_input(
            f"reportType {report_type!r} is not supported by the sandbox; "
            f"supported: {sorted(INVENTORY_REPORT_TYPES)}.",
            "reportType",
        )
    enabled = state.credentials.enabled_marketplaces
    marketplaces = [m for m in enabled if m in body["marketplaceIds"]]
    if not marketplaces:
        raise invalid_input(
            f"marketplaceIds must include a marketplace enabled for this seller "
            f"(one of {', '.join(enabled)}).",
            "marketplaceIds",
        )
    now = state.now()
    report: dict[str, Any] = {
        "reportId": str(50000000000 + state.next_number("report")),
        "reportType": report_type,
        "marketplaceIds": marketplaces,
        "createdTime": iso(now),
        "processingStatus": "IN_QUEUE",
    }
    for key in ("dataStartTime", "dataEndTime"):
        if key in body:
            report[key] = iso(parse_param(key, body[key]))
    state.store.put("report", report["reportId"], report)
    state.track("report", report["reportId"])
    return 202, {"reportId": report["reportId"]}


def get_report(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    report = state.store.get("report", call.path_params["reportId"])
    if report is None:
        raise not_found(f"Report {call.path_params['reportId']} was not found.")
    return 200, report


def get_reports(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    token = call.param("nextToken")
    if token:
        query = _decode(token)
    else:
        types = call.param_list("reportTypes")
        if not types:
            raise invalid_input("reportTypes is required unless nextToken is given.", "reportTypes")
        statuses = call.param_list("processingStatuses")
        if unknown := sorted(set(statuses) - PROCESSING_STATUSES):
            raise invalid_input(
                f"processingStatuses has unknown values {unknown}.", "processingStatuses"
            )
        size_raw = call.param("pageSize") or "10"
        if not size_raw.isdigit() or not 1 <= int(size_raw) <= 100:
            raise invalid_input("pageSize must be an integer from 1 to 100.", "pageSize")
        now = state.now()
        since_raw, until_raw = call.param("createdSince"), call.param("createdUntil")
        since = parse_param("createdSince", since_raw) if since_raw else now - timedelta(days=90)
        until = parse_param("createdUntil", until_raw) if until_raw else now
        query = {
            "types": types,
            "statuses": statuses,
            "since": iso(since),
            "until": iso(until),
            "size": int(size_raw),
            "offset": 0,
        }
    since, until = parse_iso(query["since"]), parse_iso(query["until"])
    matching = [
        r
        for r in state.store.all("report")
        if r["reportType"] in query["types"]
        and (not query["statuses"] or r["processingStatus"] in query["statuses"])
        and since <= parse_iso(r["createdTime"]) <= until
    ]
    matching.sort(key=lambda r: (r["createdTime"], r["reportId"]), reverse=True)
    start, size = query["offset"], query["size"]
    body: dict[str, Any] = {"reports": matching[start : start + size]}
    if start + size < len(matching):
        body["nextToken"] = _encode({**query, "offset": start + size})
    return 200, body


def _encode(query: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(query, sort_keys=True).encode()).decode()


def _decode(token: str) -> dict[str, Any]:
    try:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError):
        raise invalid_input("Invalid nextToken.", "nextToken") from None
    return decoded


def _signature(state: AmazonState, document_id: str, expires: int) -> str:
    key = state.credentials.client_secret.encode()
    return hmac.new(key, f"{document_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def get_report_document(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    document_id = call.path_params["reportDocumentId"]
    if state.store.get("document", document_id) is None:
        raise not_found(f"Report document {document_id} was not found.")
    expires = int(state.now().timestamp()) + DOCUMENT_URL_SECONDS
    url = (
        f"{call.base_url}/_sandbox/documents/{document_id}"
        f"?X-Amz-Expires={expires}&X-Amz-Signature={_signature(state, document_id, expires)}"
    )
    return 200, {"reportDocumentId": document_id, "url": url, "compressionAlgorithm": "GZIP"}


async def serve_document(request: Request) -> Response:
    """The "S3" side of a report document: GZIP bytes of Cp1252 text, only while the URL has
    not expired."""
    state: AmazonState = request.app.state.amazon
    document_id = request.path_params["document_id"]
    expires_raw = request.query_params.get("X-Amz-Expires", "")
    signature = request.query_params.get("X-Amz-Signature", "")
    if not expires_raw.isdigit() or not hmac.compare_digest(
        signature, _signature(state, document_id, int(expires_raw))
    ):
        return JSONResponse({"error": "SignatureDoesNotMatch"}, 403)
    if int(expires_raw) < state.now().timestamp():
        return JSONResponse({"error": "AccessDenied", "message": "Request has expired"}, 403)
    document = state.store.get("document", document_id)
    if document is None:
        return JSONResponse({"error": "NoSuchKey"}, 404)
    return Response(
        gzip.compress(document["content"].encode("cp1252", errors="replace"), mtime=0),
        headers={"content-type": DOCUMENT_CONTENT_TYPE},
    )
