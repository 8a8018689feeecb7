"""The merchant's actions on an order (cancel, refund, resubmit), through the stack's own API.

The console does not carry them out itself: it asks the API, as the shop or the ERP would
(`POST /orders/{id}/cancel`, `/refunds`, `/resubmit`), signed with SigV4 by the operator's
own AWS credentials (the merchant API's routes are IAM-authorised, infra/webhook_api.py).
So the Lambda functions run the same domain functions with the stack's secrets, and no
Opayo or Amazon secret ever reaches the operator's machine. The local runtime's API takes
the same signed requests.

Each action is idempotent where the API makes it so: a refund's `refundId` and a
resubmission's `resubmitId` are minted when the form is drawn, so a form sent twice (a
double click, a reload) is the same request, and the API answers the repeat with 200.
A cancellation is idempotent in the API itself.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

Action = Literal["cancel", "refund", "resubmit"]
PATHS: dict[Action, str] = {
    "cancel": "/orders/{order_id}/cancel",
    "refund": "/orders/{order_id}/refunds",
    "resubmit": "/orders/{order_id}/resubmit",
}
TIMEOUT_S = 30.0


def request_id(action: Action) -> str:
    """A refundId or resubmitId for one form: `console-<action>-<random>`, within the API's
    pattern (letters, digits and . _ : -, at most 64)."""
    return f"console-{action}-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class ActionReply:
    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        """What the API said, for the page: its error (4xx/5xx) or the order's status."""
        error = self.body.get("error") or self.body.get("message")
        if isinstance(error, dict):
            error = error.get("message") or json.dumps(error)
        details = self.body.get("details")
        if error and isinstance(details, list) and details:
            said = [str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in details]
            return f"{error}: {'; '.join(said[:3])}"
        if error:
            return str(error)
        order = self.body.get("order", self.body)
        return f"the order is now {order.get('status', 'unchanged')}"


class OrderActions(Protocol):
    def act(self, action: Action, order_id: str, body: dict[str, Any] | None) -> ActionReply:
        """POST the action to the API; an ActionReply whatever the API answered, or
        ConnectionError when it could not be reached."""
        ...


class ApiActions:
    """The stack's API at `api_url`, each request signed for `execute-api` in `region` with
    `credentials` (botocore's, refreshed as botocore refreshes them)."""

    def __init__(self, api_url: str, credentials: Any, region: str) -> None:
        self._url = api_url.rstrip("/")
        self._credentials = credentials
        self._region = region

    def act(self, action: Action, order_id: str, body: dict[str, Any] | None) -> ActionReply:
        import httpx
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = self._url + PATHS[action].format(order_id=quote(order_id, safe=""))
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        headers = {"content-type": "application/json"} if body is not None else {}
        signed = AWSRequest(method="POST", url=url, data=data, headers=headers)
        SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(
            signed
        )
        try:
            reply = httpx.post(url, content=data, headers=dict(signed.headers), timeout=TIMEOUT_S)
        except httpx.HTTPError as error:
            reason = f"the stack's API at {self._url} could not be reached: {error}"
            raise ConnectionError(reason) from None
        try:
            document = reply.json()
        except ValueError:
            document = {"error": reply.text[:300] or reply.reason_phrase}
        return ActionReply(reply.status_code, document if isinstance(document, dict) else {})
