"""The Orders page (a list by the orders table's by-account index, and search) and an
order's own page (its whole story on one timeline)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opayo_fba.console.backend import OrderFilters
from opayo_fba.console.masking import mask_email, mask_name
from opayo_fba.console.pages.order_actions import offered
from opayo_fba.model import OrderStatus
from opayo_fba.ops.timeline import merged, record_timeline
from opayo_fba.store.orders import (
    ACCOUNT_ATTRIBUTE,
    RECEIVED_AT_ATTRIBUTE,
    OrderPage,
    OrderRecord,
    account_index_key,
)

if TYPE_CHECKING:
    from opayo_fba.console.app import Console
    from opayo_fba.console.backend import ConsoleBackend

PAGE_SIZE = 25
MAX_SEARCH = 100
_SEARCHABLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#{}@+-]*$")
_MARKETPLACE = re.compile(r"^[A-Z0-9]{10,14}$")
_ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")
_CURSOR_KEYS = frozenset({"pk", ACCOUNT_ATTRIBUTE, RECEIVED_AT_ATTRIBUTE})
FILTER_PARAMETERS = ("account", "status", "marketplace", "from", "to")
ALL_ACCOUNTS = "*"
"""The account filter's value for every seller account in one list (no account id is "*")."""


class BadQuery(ValueError):
    """A filter, search or cursor the page cannot use; its message says which and why."""


@dataclass(frozen=True)
class ListQuery:
    filters: OrderFilters | None
    search: str | None
    cursor: dict[str, Any] | None
    """A start key of the account's index; for every account, each account's start key
    (None: that account's orders are all shown)."""

    def parameters(self) -> dict[str, str]:
        """The query string of this list (without its cursor)."""
        if self.search is not None:
            return {"q": self.search}
        f = self.filters
        assert f is not None
        found = {
            "account": f.seller_account,
            "status": f.status.value if f.status else "",
            "marketplace": f.marketplace_id or "",
            "from": f.received_from.isoformat() if f.received_from else "",
            "to": f.received_to.isoformat() if f.received_to else "",
        }
        return {k: v for k, v in found.items() if v}


def encode_cursor(console: Console, key: dict[str, Any]) -> str:
    data = json.dumps(key, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=") + "." + console.sessions.sign(data)


def decode_cursor(console: Console, text: str, account: str) -> dict[str, Any]:
    """The start key a cursor of this console carries; BadQuery for any other text."""
    encoded, _, mac = text.partition(".")
    try:
        data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        raise BadQuery("the page cursor is not one this console wrote") from None
    import hmac

    if not hmac.compare_digest(mac, console.sessions.sign(data)):
        raise BadQuery("the page cursor is not one this console wrote")
    key = json.loads(data)
    if account == ALL_ACCOUNTS:
        starts = key.get(ALL_ACCOUNTS) if isinstance(key, dict) and len(key) == 1 else None
        if not isinstance(starts, dict) or not all(
            v is None
            or (isinstance(v, dict) and set(v) == _CURSOR_KEYS and v[ACCOUNT_ATTRIBUTE] == a)
            for a, v in starts.items()
        ):
            raise BadQuery("the page cursor belongs to another list: start from the first page")
        return {str(a): v for a, v in starts.items()}
    if set(key) != _CURSOR_KEYS or key[ACCOUNT_ATTRIBUTE] != account:
        raise BadQuery("the page cursor belongs to another list: start from the first page")
    return {str(k): str(v) for k, v in key.items()}


def _date(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadQuery(f"{name} must be a date as YYYY-MM-DD, not {text[:20]!r}") from None


def parse_list_query(console: Console, params: Any) -> ListQuery:
    """The list the query string asks for; BadQuery naming every problem."""
    problems: list[str] = []
    search = params.get("q", "").strip()
    if search:
        if len(search) > MAX_SEARCH:
            problems.append(f"a search is at most {MAX_SEARCH} characters")
        elif not _SEARCHABLE.match(search):
            problems.append(
                "search for an order id, a vendorTxCode, a sellerFulfillmentOrderId or a "
                "customer's e-mail (letters, digits and . _ : / # { } @ + -)"
            )
        if problems:
            raise BadQuery("; ".join(problems))
        return ListQuery(filters=None, search=search, cursor=None)
    accounts = console.backend.seller_accounts()
    account = params.get("account", "") or next(iter(accounts), "")
    if account not in accounts and not (account == ALL_ACCOUNTS and accounts):
        known = ", ".join(accounts) or "none"
        problems.append(f"account must be one of this stack's seller accounts ({known})")
    status_text = params.get("status", "")
    status = None
    if status_text:
        try:
            status = OrderStatus(status_text)
        except ValueError:
            problems.append(f"status {status_text[:40]!r} is not an order status")
    marketplace = params.get("marketplace", "") or None
    if marketplace is not None and not _MARKETPLACE.match(marketplace):
        problems.append("marketplace must be an Amazon marketplace id (e.g. A1F83G8C2ARO7P)")
    received_from = received_to = None
    for name, text in (("from", params.get("from", "")), ("to", params.get("to", ""))):
        try:
            day = _date(name, text)
        except BadQuery as error:
            problems.append(str(error))
            continue
        if name == "from":
            received_from = day
        else:
            received_to = day
    if received_from and received_to and received_from > received_to:
        problems.append("from must not be after to")
    if problems:
        raise BadQuery("; ".join(problems))
    cursor_text = params.get("cursor", "")
    cursor = decode_cursor(console, cursor_text, account) if cursor_text else None
    filters = OrderFilters(account, status, marketplace, received_from, received_to)
    return ListQuery(filters=filters, search=None, cursor=cursor)


def every_account_page(
    backend: ConsoleBackend,
    accounts: list[str],
    filters: OrderFilters,
    limit: int,
    starts: dict[str, Any] | None,
) -> tuple[list[OrderRecord], dict[str, Any] | None]:
    """One page of every account's orders, newest received first: a page of each account's
    index (the index is partitioned by account), merged, the newest `limit` kept. The cursor
    holds where each account resumes: after its last order shown, or at its next page when
    all it gave was shown, or None once it has no more (an account not in it starts from its
    first). The cursor is None when no account has more."""
    from dataclasses import replace

    pages: dict[str, OrderPage] = {}
    for account in accounts:
        if starts is not None and account in starts and starts[account] is None:
            continue  # all of this account's orders were shown
        start = starts.get(account) if starts is not None else None
        pages[account] = backend.orders(replace(filters, seller_account=account), limit, start)
    merged = sorted(
        (record for page in pages.values() for record in page.records),
        key=lambda r: (r.received_at(), r.order_id),
        reverse=True,
    )[:limit]
    shown = {id(record) for record in merged}
    # An account absent from the cursor starts from its first order; None: it has no more.
    resume: dict[str, Any] = {a: None for a in accounts if a not in pages}
    for account, page in pages.items():
        kept = [r for r in page.records if id(r) in shown]
        start = starts.get(account) if starts is not None else None
        if len(kept) < len(page.records):
            # Some of its page was not shown: resume after the last one that was.
            if kept:
                resume[account] = account_index_key(kept[-1])
            elif start is not None:
                resume[account] = start
        else:
            resume[account] = page.next_key
    if all(resume.get(account, 0) is None for account in accounts):
        return merged, None
    return merged, {ALL_ACCOUNTS: resume}


def list_row(record: OrderRecord) -> dict[str, Any]:
    """An order as a list shows it: its customer masked."""
    order = record.order
    customer = order.customer
    total = order.totals.grand_total if order.totals is not None else None
    return {
        "order_id": record.order_id,
        "received_at": record.received_at(),
        "status": record.status.value,
        "seller_account": record.seller_account,
        "marketplace": order.marketplace_id or "",
        "customer": mask_name(customer.full_name if customer else None),
        "email": mask_email(customer.email if customer else None),
        "total": str(total) if total is not None else "",
    }


def routes(console: Console) -> list[Route]:
    async def orders(request: Request) -> Response:
        try:
            query = parse_list_query(console, request.query_params)
        except BadQuery as error:
            return console.problem(request, f"That list cannot be shown: {error}.", 400)
        next_cursor = None
        if query.search is not None:
            records = console.backend.search(query.search)
        else:
            assert query.filters is not None
            if query.filters.seller_account == ALL_ACCOUNTS:
                accounts = list(console.backend.seller_accounts())
                records, next_key = every_account_page(
                    console.backend, accounts, query.filters, PAGE_SIZE, query.cursor
                )
            else:
                page = console.backend.orders(query.filters, PAGE_SIZE, query.cursor)
                records, next_key = page.records, page.next_key
            if next_key is not None:
                next_cursor = encode_cursor(console, next_key)
        parameters = query.parameters()
        context = {
            "rows": [list_row(r) for r in records],
            "query": query,
            "parameters": parameters,
            "this_list": "/orders?"
            + urlencode(
                {
                    **parameters,
                    **({"cursor": request.query_params["cursor"]} if query.cursor else {}),
                }
            ),
            "first_page": "/orders?" + urlencode(parameters) if query.cursor else None,
            "next_page": "/orders?" + urlencode({**parameters, "cursor": next_cursor})
            if next_cursor
            else None,
            "accounts": console.backend.seller_accounts(),
            "statuses": [s.value for s in OrderStatus],
        }
        partial = (
            request.headers.get("hx-request") == "true"
            and request.headers.get("hx-target") == "orders"
        )
        return console.render(request, "_orders_table.html" if partial else "orders.html", context)

    async def order(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        if not _ORDER_ID.match(order_id):
            return console.problem(
                request, "An order id is 1 to 64 letters, digits and . _ : / # -.", 400
            )
        record = console.backend.order(order_id)
        if record is None:
            return console.problem(request, f"There is no order {order_id}.", 404)
        saga = console.backend.saga_history(record)
        context = {
            "record": record,
            "order": record.order,
            "timeline": merged(record_timeline(record), saga.entries),
            "saga_problem": saga.problem,
            "offered": offered(record),
            "actions_refused": console.backend.actions_refused,
        }
        return console.render(request, "order.html", context)

    return [
        Route("/orders", orders),
        Route("/orders/{order_id:path}", order),
    ]
