"""The only code that talks to Amazon: a small interface and its SP-API implementation.

Every call goes through the same three steps: take a slot from the seller's shared rate-limit
bucket (waiting within the caller's time budget, or failing with `Throttled`), send it (over
our httpx client, `opayo_fba.amazon.transport`; python-amazon-sp-api only exchanges the LWA
token), and retry 429, 5xx, timeouts and broken connections with full-jitter backoff.
400/403/404/409 are never retried; they become typed errors carrying Amazon's code.

Bodies are exactly what Amazon's model describes (the library's own clients would add
`marketplaceIds` keys to them).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import httpx

from opayo_fba.amazon.credentials import SellerCredentials
from opayo_fba.amazon.errors import (
    SpApiAccessDenied,
    SpApiConflict,
    SpApiError,
    SpApiNotFound,
    SpApiRequestRejected,
    SpApiUnavailable,
    Throttled,
)
from opayo_fba.amazon.rate_limit import RATE_LIMIT_HEADER, SellerRateLimiter
from opayo_fba.amazon.results import (
    DownloadedDocument,
    FulfillmentPreview,
    OrdersUpdate,
    ReportInfo,
    ReturnReasonCode,
)
from opayo_fba.amazon.retry import RetryPolicy, call_with_retries
from opayo_fba.amazon.transport import SpApiHttpError, SpApiTransport
from opayo_fba.errors import InvalidInputError

if TYPE_CHECKING:
    from sp_api.base import ApiResponse

    from opayo_fba.convert.sku import SkuMapping
    from opayo_fba.model.fulfillment import FulfillmentOrder
    from opayo_fba.model.order import Order
    from opayo_fba.model.tracking import PackageTracking

SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
_ORDERS = "/orders/v0/orders"
MAX_ORDER_MARKETPLACES = 50
"""getOrders' MarketplaceIds: "Maximum count: 50" (ordersV0.json)."""
_FULFILLMENT_ORDERS = "/fba/outbound/2020-07-01/fulfillmentOrders"
_TRACKING = "/fba/outbound/2020-07-01/tracking"
_RETURN_REASON_CODES = "/fba/outbound/2020-07-01/returnReasonCodes"
_REPORTS = "/reports/2021-06-30"
_INVENTORY_SUMMARIES = "/fba/inventory/v1/summaries"
_CHUNK = 64 * 1024


class AmazonConnector(Protocol):
    """What the domain needs from Amazon; tests may pass an in-memory fake."""

    def orders_updated_since(
        self, since: datetime, marketplace_ids: Sequence[str] = ()
    ) -> OrdersUpdate: ...

    def order_items(self, amazon_order_id: str) -> list[dict[str, Any]]: ...

    def fulfillment_preview(self, request: Mapping[str, Any]) -> list[FulfillmentPreview]: ...

    def create_fulfillment_order_on_hold(self, request: Mapping[str, Any]) -> str: ...

    def release_fulfillment_order(
        self, seller_fulfillment_order_id: str, marketplace_id: str | None = None
    ) -> None: ...

    def cancel_fulfillment_order(self, seller_fulfillment_order_id: str) -> None: ...

    def get_fulfillment_order(self, seller_fulfillment_order_id: str) -> dict[str, Any]: ...

    def package_tracking(self, package_number: int) -> dict[str, Any]: ...

    def return_reason_codes(
        self, seller_sku: str, seller_fulfillment_order_id: str | None = None
    ) -> list[ReturnReasonCode]: ...

    def create_fulfillment_return(
        self, seller_fulfillment_order_id: str, items: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]: ...

    def create_report(
        self,
        report_type: str,
        *,
        data_start: datetime | None = None,
        data_end: datetime | None = None,
    ) -> str: ...

    def get_report(self, report_id: str) -> ReportInfo: ...

    def download_report_document(self, document_id: str, sink: IO[bytes]) -> DownloadedDocument: ...

    def list_settlement_reports(self, created_since: datetime) -> list[ReportInfo]: ...

    def inventory_summaries_changed_since(self, since: datetime) -> list[dict[str, Any]]: ...


class SpApiEndpoints:
    """Where SP-API and LWA live; the sandbox passes its own URLs, code stays the same."""

    def __init__(
        self,
        endpoint: str = "https://sellingpartnerapi-eu.amazon.com",
        lwa_url: str = "https://api.amazon.com/auth/o2/token",
    ) -> None:
        for name, url in (("endpoint", endpoint), ("lwa_url", lwa_url)):
            parts = urlsplit(url)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")
        self.endpoint = endpoint.rstrip("/")
        self.lwa_url = lwa_url


def _is_retryable(error: Exception) -> bool:
    from sp_api.base import AuthorizationError

    if isinstance(error, AuthorizationError):
        # LWA itself failing (5xx, 429) heals; refused credentials (4xx) do not.
        return int(error.status_code) >= 500 or int(error.status_code) == 429
    if isinstance(error, SpApiHttpError):
        return error.status == 429 or error.status >= 500
    return isinstance(error, httpx.TimeoutException | httpx.TransportError)


def _translate(operation: str, error: Exception) -> Exception:
    """SP-API, LWA and transport errors -> this connector's typed errors."""
    from sp_api.base import AuthorizationError

    if isinstance(error, SpApiHttpError):
        status, code, message = error.status, error.code, error.message
    elif isinstance(error, AuthorizationError):
        lwa_error = SpApiAccessDenied if int(error.status_code) < 500 else SpApiUnavailable
        return lwa_error(
            operation, int(error.status_code), str(error.error_code), f"LWA: {error.message}"
        )
    elif isinstance(error, httpx.TimeoutException | httpx.TransportError):
        return SpApiUnavailable(operation, 0, type(error).__name__, str(error) or "no response")
    else:
        return error
    if status == 429:
        return Throttled(operation)
    error_class: type[SpApiError] = {
        400: SpApiRequestRejected,
        401: SpApiAccessDenied,
        403: SpApiAccessDenied,
        404: SpApiNotFound,
        409: SpApiConflict,
    }.get(status, SpApiUnavailable if status >= 500 else SpApiRequestRejected)
    return error_class(operation, status, code, message)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to SP-API must be timezone-aware (UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SpApiConnector:
    """AmazonConnector over python-amazon-sp-api for one seller account.

    `time_budget()` returns how many seconds this caller may still spend (in Lambda: remaining
    time minus a margin; see `lambda_time_budget`). A rate-limit wait may use only what is
    left of it after the call itself, which may take up to `timeout` seconds: a slot that
    leaves too little time for the call is refused with Throttled instead of waited for, so
    a call is never cut off by the Lambda's own timeout after it may have landed.
    """

    def __init__(
        self,
        credentials: SellerCredentials,
        *,
        limiter: SellerRateLimiter,
        endpoints: SpApiEndpoints | None = None,
        retry: RetryPolicy | None = None,
        time_budget: Callable[[], float] = lambda: 10.0,
        timeout: float = 20.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._credentials = credentials
        self._limiter = limiter
        self._endpoints = endpoints or SpApiEndpoints()
        self._retry = retry or RetryPolicy()
        self._time_budget = time_budget
        self._call_seconds = timeout
        self._http = http_client or httpx.Client(timeout=timeout)
        self._transport = SpApiTransport(
            credentials,
            endpoint=self._endpoints.endpoint,
            lwa_url=self._endpoints.lwa_url,
            http=self._http,
        )

    @property
    def marketplace_id(self) -> str:
        return self._credentials.marketplace_id

    def close(self) -> None:
        self._http.close()

    def prepare(self) -> None:
        """Import python-amazon-sp-api and build its LWA client now (at cold start, say), so
        the first call does not pay for it while holding a rate-limit slot."""
        self._transport.prepare()

    # -- plumbing -------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> ApiResponse:
        def attempt() -> ApiResponse:
            self._limiter.acquire(operation, max_wait=self._rate_limit_budget)
            try:
                response = self._transport.request(method, path, params=params, body=body)
            except SpApiHttpError as error:
                if error.errors:
                    self._limiter.observe(operation, error.headers.get(RATE_LIMIT_HEADER))
                if error.status == 429:
                    self._throttled(operation)
                raise
            self._limiter.observe(operation, (response.headers or {}).get(RATE_LIMIT_HEADER))
            return response

        def with_token_refresh() -> ApiResponse:
            try:
                return attempt()
            except SpApiHttpError as error:
                if error.status != 403 or not error.errors:
                    raise
                # Access tokens are cached per process for most of an hour; a token revoked
                # or issued by another LWA endpoint is refused with 403. The transport has
                # forgotten it: try once more with a fresh one; a second 403 is a real denial.
                return attempt()

        try:
            return call_with_retries(
                with_token_refresh, policy=self._retry, retryable=_is_retryable, name=operation
            )
        except Throttled:
            raise
        except Exception as error:
            translated = _translate(operation, error)
            if translated is error:
                raise
            raise translated from error

    def _rate_limit_budget(self) -> float:
        """Seconds a rate-limit wait may take now: the time budget less one call's duration."""
        return max(0.0, self._time_budget() - self._call_seconds)

    def _throttled(self, operation: str) -> None:
        """Amazon said 429: empty our bucket and count it (the SP-API throttles alarm)."""
        from aws_lambda_powertools.metrics import MetricUnit

        from opayo_fba.observability import metrics

        self._limiter.throttled(operation)
        metrics.add_metric(name="SpApiThrottled", unit=MetricUnit.Count, value=1)

    # -- Orders ---------------------------------------------------------------------------

    def orders_updated_since(
        self, since: datetime, marketplace_ids: Sequence[str] = ()
    ) -> OrdersUpdate:
        """Every order updated at or after `since` in `marketplace_ids` (the account's own
        marketplace when none is given; getOrders takes at most 50), following NextToken
        through all pages."""
        marketplaces = ",".join(marketplace_ids or (self.marketplace_id,))
        if len(marketplace_ids) > MAX_ORDER_MARKETPLACES:
            raise InvalidInputError(
                f"getOrders takes at most {MAX_ORDER_MARKETPLACES} marketplaces, "
                f"got {len(marketplace_ids)}"
            )
        orders: list[dict[str, Any]] = []
        params: dict[str, Any] = {
            "MarketplaceIds": marketplaces,
            "LastUpdatedAfter": _iso(since),
        }
        watermark: datetime | None = None
        while True:
            response = self._call("getOrders", "GET", _ORDERS, params=params)
            payload = response.payload or {}
            orders.extend(payload.get("Orders") or [])
            if watermark is None and payload.get("LastUpdatedBefore"):
                watermark = _parse_time(payload["LastUpdatedBefore"])
            next_token = payload.get("NextToken")
            if not next_token:
                break
            params = {"MarketplaceIds": marketplaces, "NextToken": next_token}
        return OrdersUpdate(orders=orders, last_updated_before=watermark)

    def order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        path = f"{_ORDERS}/{_segment(amazon_order_id, 'amazon_order_id')}/orderItems"
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        while True:
            payload = self._call("getOrderItems", "GET", path, params=params).payload
            items.extend((payload or {}).get("OrderItems") or [])
            next_token = (payload or {}).get("NextToken")
            if not next_token:
                return items
            params = {"NextToken": next_token}

    # -- Fulfillment Outbound (MCF) ---------------------------------------------------------

    def fulfillment_preview(self, request: Mapping[str, Any]) -> list[FulfillmentPreview]:
        body = {"marketplaceId": self.marketplace_id, **request}
        payload = self._call(
            "getFulfillmentPreview",
            "POST",
            f"{_FULFILLMENT_ORDERS}/preview",
            body=body,
        ).payload
        previews = (payload or {}).get("fulfillmentPreviews") or []
        return [FulfillmentPreview.from_payload(p) for p in previews]

    def create_fulfillment_order_on_hold(self, request: Mapping[str, Any]) -> str:
        """Create the fulfillment order with `fulfillmentAction` Hold; returns its id.

        Idempotent on `sellerFulfillmentOrderId`: if Amazon rejects the create because an
        earlier attempt (whose answer was lost) already created it, that order is returned.
        """
        seller_fulfillment_order_id = str(request.get("sellerFulfillmentOrderId") or "")
        _segment(seller_fulfillment_order_id, "sellerFulfillmentOrderId")
        body = {"marketplaceId": self.marketplace_id, **request, "fulfillmentAction": "Hold"}
        try:
            self._call("createFulfillmentOrder", "POST", _FULFILLMENT_ORDERS, body=body)
        except (SpApiRequestRejected, SpApiConflict) as rejected:
            try:
                self.get_fulfillment_order(seller_fulfillment_order_id)
            except SpApiNotFound:
                raise rejected from None
            return seller_fulfillment_order_id
        return seller_fulfillment_order_id

    def create_fulfillment_order_for(self, order: Order, *, skus: SkuMapping | None = None) -> str:
        """Create the Hold fulfillment order for a canonical Order; returns its id.

        The body and the deterministic sellerFulfillmentOrderId (derived from the order id)
        come from `opayo_fba.convert.fba_outbound`, so a retried saga step always names the
        same fulfillment order.
        """
        from opayo_fba.convert.fba_outbound import create_fulfillment_order_request

        request = create_fulfillment_order_request(
            order, skus=skus, action="Hold", marketplace_id=self.marketplace_id
        )
        return self.create_fulfillment_order_on_hold(request.body)

    def release_fulfillment_order(
        self, seller_fulfillment_order_id: str, marketplace_id: str | None = None
    ) -> None:
        """Move a Hold order to Ship (repeating it is harmless: the PUT sets the same value),
        in the marketplace it was placed against (the account's own when not given)."""
        path = f"{_FULFILLMENT_ORDERS}/{_segment(seller_fulfillment_order_id, 'id')}"
        body = {"marketplaceId": marketplace_id or self.marketplace_id, "fulfillmentAction": "Ship"}
        self._call("updateFulfillmentOrder", "PUT", path, body=body)

    def cancel_fulfillment_order(self, seller_fulfillment_order_id: str) -> None:
        path = f"{_FULFILLMENT_ORDERS}/{_segment(seller_fulfillment_order_id, 'id')}/cancel"
        self._call("cancelFulfillmentOrder", "PUT", path)

    def get_fulfillment_order(self, seller_fulfillment_order_id: str) -> dict[str, Any]:
        """getFulfillmentOrder's payload (fulfillmentOrder, fulfillmentOrderItems, shipments)."""
        path = f"{_FULFILLMENT_ORDERS}/{_segment(seller_fulfillment_order_id, 'id')}"
        payload = self._call("getFulfillmentOrder", "GET", path).payload
        return dict(payload or {})

    def fulfillment_order(
        self, seller_fulfillment_order_id: str, *, order_id: str | None = None
    ) -> FulfillmentOrder:
        """The canonical FulfillmentOrder (via `opayo_fba.convert.fba_outbound`)."""
        from opayo_fba.convert.fba_outbound import fulfillment_order_from_fba

        payload = self.get_fulfillment_order(seller_fulfillment_order_id)
        return fulfillment_order_from_fba(payload, order_id=order_id)

    # -- After the sale: tracking and returns ---------------------------------------------

    def package_tracking(self, package_number: int) -> dict[str, Any]:
        """getPackageTrackingDetails' payload for a package number from getFulfillmentOrder
        (`fulfillmentShipmentPackage[].packageNumber`). An unknown package is SpApiNotFound."""
        if isinstance(package_number, bool) or not isinstance(package_number, int):
            raise SpApiRequestRejected(
                "validate",
                400,
                "InvalidInput",
                f"package_number must be an integer: {package_number!r}",
            )
        payload = self._call(
            "getPackageTrackingDetails",
            "GET",
            _TRACKING,
            params={"packageNumber": package_number},
        ).payload
        return dict(payload or {})

    def tracked_package(self, package_number: int) -> PackageTracking:
        """The canonical PackageTracking (via `opayo_fba.convert.fba_outbound`)."""
        from opayo_fba.convert.fba_outbound import package_tracking_from_fba

        return package_tracking_from_fba(self.package_tracking(package_number))

    def return_reason_codes(
        self,
        seller_sku: str,
        seller_fulfillment_order_id: str | None = None,
        *,
        language: str | None = None,
    ) -> list[ReturnReasonCode]:
        """The codes createFulfillmentReturn accepts for a SKU (in this marketplace, or in
        the fulfillment order's when one is named)."""
        if not seller_sku:
            raise SpApiRequestRejected("validate", 400, "InvalidInput", "seller_sku is empty")
        params: dict[str, Any] = {"sellerSku": seller_sku, "marketplaceId": self.marketplace_id}
        if seller_fulfillment_order_id:
            params["sellerFulfillmentOrderId"] = seller_fulfillment_order_id
        if language:
            params["language"] = language
        payload = self._call(
            "listReturnReasonCodes", "GET", _RETURN_REASON_CODES, params=params
        ).payload
        details = (payload or {}).get("reasonCodeDetails") or []
        return [ReturnReasonCode.from_payload(detail) for detail in details]

    def create_fulfillment_return(
        self, seller_fulfillment_order_id: str, items: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """createFulfillmentReturn's payload (`returnItems`, `invalidReturnItems`,
        `returnAuthorizations`). Each item is one returned unit: {sellerReturnItemId,
        sellerFulfillmentOrderItemId, amazonShipmentId, returnReasonCode, returnComment?}.

        Idempotent on sellerReturnItemId: Amazon refuses a repeated one as DuplicateRequest,
        so such an item is looked up in the order's own returnItems and, if it is the same
        unit (same order item and shipment), reported as accepted with its authorization.
        A retry after a lost answer therefore gives the same result as the first call.
        """
        path = f"{_FULFILLMENT_ORDERS}/{_segment(seller_fulfillment_order_id, 'id')}/return"
        body = {"items": [dict(item) for item in items]}
        payload = dict(self._call("createFulfillmentReturn", "PUT", path, body=body).payload or {})
        duplicates = [
            invalid
            for invalid in payload.get("invalidReturnItems") or []
            if (invalid.get("invalidItemReason") or {}).get("invalidItemReasonCode")
            == "DuplicateRequest"
        ]
        if duplicates:
            payload = self._merge_existing_returns(seller_fulfillment_order_id, body, payload)
        return payload

    def _merge_existing_returns(
        self, seller_fulfillment_order_id: str, body: dict[str, Any], payload: dict[str, Any]
    ) -> dict[str, Any]:
        order = self.get_fulfillment_order(seller_fulfillment_order_id)
        existing = {i["sellerReturnItemId"]: i for i in order.get("returnItems") or []}
        authorizations = {
            a["returnAuthorizationId"]: a for a in order.get("returnAuthorizations") or []
        }
        requested = {i["sellerReturnItemId"]: i for i in body["items"]}
        accepted = list(payload.get("returnItems") or [])
        granted = list(payload.get("returnAuthorizations") or [])
        invalid = []
        for item in payload.get("invalidReturnItems") or []:
            code = (item.get("invalidItemReason") or {}).get("invalidItemReasonCode")
            known = existing.get(item["sellerReturnItemId"])
            wanted = requested.get(item["sellerReturnItemId"], {})
            same_unit = known is not None and all(
                known.get(key) == wanted.get(key)
                for key in ("sellerFulfillmentOrderItemId", "amazonShipmentId")
            )
            if code != "DuplicateRequest" or not same_unit or known is None:
                invalid.append(item)
                continue
            if all(a["sellerReturnItemId"] != known["sellerReturnItemId"] for a in accepted):
                accepted.append(known)
            authorization = authorizations.get(str(known.get("returnAuthorizationId")))
            if authorization is not None and authorization not in granted:
                granted.append(authorization)
        return {
            "returnItems": accepted,
            "invalidReturnItems": invalid,
            "returnAuthorizations": granted,
        }

    def order(self, amazon_order_id: str, *, skus: SkuMapping | None = None) -> Order:
        """One Amazon order with its items, as the canonical Order (getOrder + getOrderItems)."""
        from opayo_fba.convert.orders_v0 import order_from_orders_v0

        path = f"{_ORDERS}/{_segment(amazon_order_id, 'amazon_order_id')}"
        payload = self._call("getOrder", "GET", path).payload or {}
        return order_from_orders_v0(payload, self.order_items(amazon_order_id), skus=skus)

    # -- FBA inventory ----------------------------------------------------------------------

    def inventory_summaries_changed_since(self, since: datetime) -> list[dict[str, Any]]:
        """Every FBA inventory summary (with details) whose quantities changed since `since`,
        in this account's marketplace, following nextToken through all pages.

        Each page repeats startDateTime with the token, as Amazon asks ("use both
        startDateTime and nextToken"); a token lives 30 seconds, so pages are read at once.
        """
        first: dict[str, Any] = {
            "details": "true",
            "granularityType": "Marketplace",
            "granularityId": self.marketplace_id,
            "marketplaceIds": self.marketplace_id,
            "startDateTime": _iso(since),
        }
        summaries: list[dict[str, Any]] = []
        params = first
        while True:
            response = self._call(
                "getInventorySummaries", "GET", _INVENTORY_SUMMARIES, params=params
            )
            payload = response.payload or {}
            summaries.extend(payload.get("inventorySummaries") or [])
            next_token = response.next_token
            if not next_token:
                return summaries
            params = {**first, "nextToken": next_token}

    # -- Reports ----------------------------------------------------------------------------

    def create_report(
        self,
        report_type: str,
        *,
        data_start: datetime | None = None,
        data_end: datetime | None = None,
    ) -> str:
        if report_type == SETTLEMENT_REPORT_TYPE:
            raise SpApiRequestRejected(
                "createReport",
                400,
                "InvalidInput",
                "settlement reports are scheduled by Amazon; use list_settlement_reports",
            )
        body: dict[str, Any] = {"reportType": report_type, "marketplaceIds": [self.marketplace_id]}
        if data_start is not None:
            body["dataStartTime"] = _iso(data_start)
        if data_end is not None:
            body["dataEndTime"] = _iso(data_end)
        payload = self._call("createReport", "POST", f"{_REPORTS}/reports", body=body).payload
        return str((payload or {})["reportId"])

    def get_report(self, report_id: str) -> ReportInfo:
        path = f"{_REPORTS}/reports/{_segment(report_id, 'report_id')}"
        payload = self._call("getReport", "GET", path).payload
        return ReportInfo.from_payload(payload or {})

    def list_settlement_reports(self, created_since: datetime) -> list[ReportInfo]:
        """Settlement reports Amazon generated since `created_since`, all pages."""
        params: dict[str, Any] = {
            "reportTypes": SETTLEMENT_REPORT_TYPE,
            "createdSince": _iso(created_since),
            "pageSize": 100,
        }
        reports: list[ReportInfo] = []
        while True:
            payload = self._call("getReports", "GET", f"{_REPORTS}/reports", params=params).payload
            reports.extend(ReportInfo.from_payload(r) for r in (payload or {}).get("reports", []))
            next_token = (payload or {}).get("nextToken")
            if not next_token:
                return reports
            params = {"nextToken": next_token}

    def report_document_location(self, document_id: str) -> tuple[str, str | None]:
        """(presigned URL, compression algorithm) of a report document."""
        path = f"{_REPORTS}/documents/{_segment(document_id, 'document_id')}"
        payload = self._call("getReportDocument", "GET", path).payload or {}
        return str(payload["url"]), payload.get("compressionAlgorithm")

    def stream_report_document(self, document_id: str) -> AbstractContextManager[Iterator[bytes]]:
        """A context manager yielding the document's decompressed bytes chunk by chunk.

        Memory stays bounded by the chunk size, whatever the report's size.
        """
        url, compression = self.report_document_location(document_id)
        return _DocumentStream(self._http, url, compression)

    def download_report_document(self, document_id: str, sink: IO[bytes]) -> DownloadedDocument:
        """Write the decompressed document to `sink` (seekable): the bytes as Amazon sent
        them, with the Content-Type that names their charset (`opayo_fba.amazon.charsets`).

        The download is retried from the start on broken connections; the presigned URL is
        fetched once (it stays valid for five minutes).
        """
        url, compression = self.report_document_location(document_id)

        def attempt() -> DownloadedDocument:
            sink.seek(0)
            sink.truncate()
            written = 0
            stream = _DocumentStream(self._http, url, compression)
            with stream as chunks:
                for chunk in chunks:
                    sink.write(chunk)
                    written += len(chunk)
            return DownloadedDocument(written, stream.content_type)

        try:
            return call_with_retries(
                attempt, policy=self._retry, retryable=_is_retryable, name="downloadReport"
            )
        except (httpx.TimeoutException, httpx.TransportError, SpApiHttpError) as error:
            raise _translate("getReportDocument", error) from error


class _DocumentStream(AbstractContextManager[Iterator[bytes]]):
    def __init__(self, http: httpx.Client, url: str, compression: str | None) -> None:
        if compression not in (None, "GZIP"):
            raise SpApiRequestRejected(
                "getReportDocument", 200, "UnsupportedCompression", str(compression)
            )
        self._http = http
        self._url = url
        self._compression = compression
        self._response: AbstractContextManager[httpx.Response] | None = None
        self.content_type: str | None = None

    def __enter__(self) -> Iterator[bytes]:
        self._response = self._http.stream("GET", self._url)
        response = self._response.__enter__()
        if response.status_code >= 400:
            # An error page (S3 answers in XML) is an error, never the document.
            response.read()
            self._response.__exit__(None, None, None)
            self._response = None
            raise SpApiHttpError(
                response.status_code, errors=[], text=response.text, headers=response.headers
            )
        self.content_type = response.headers.get("content-type")
        return self._chunks(response)

    def _chunks(self, response: httpx.Response) -> Iterator[bytes]:
        if self._compression is None:
            yield from response.iter_bytes(_CHUNK)
            return
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        for chunk in response.iter_bytes(_CHUNK):
            data = decompressor.decompress(chunk)
            if data:
                yield data
        tail = decompressor.flush()
        if tail:
            yield tail
        if not decompressor.eof:
            raise httpx.RemoteProtocolError("report document ended before its GZIP stream")

    def __exit__(self, *exc_info: Any) -> None:
        if self._response is not None:
            self._response.__exit__(*exc_info)


def _segment(value: str, name: str) -> str:
    """An identifier placed in a URL path: non-empty, no slash, no traversal."""
    from urllib.parse import quote

    if not value or "/" in value or value in (".", ".."):
        raise SpApiRequestRejected("validate", 400, "InvalidInput", f"{name} is invalid: {value!r}")
    return quote(value, safe="")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lambda_time_budget(context: Any, *, margin_seconds: float = 5.0) -> Callable[[], float]:
    """A `time_budget` for SpApiConnector from a Lambda context: remaining time - margin."""

    def remaining() -> float:
        remaining_ms = float(context.get_remaining_time_in_millis())
        return max(0.0, remaining_ms / 1000.0 - margin_seconds)

    return remaining
