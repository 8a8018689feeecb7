"""One seller's SP-API requests over our httpx client; python-amazon-sp-api only for LWA.

The library's endpoint clients cannot do what the connector needs through their public API:
they build their own httpx client (ours carries the timeout and is shared with report
downloads), add `marketplaceIds` to request bodies, return an empty payload for an error page
that is not JSON, and keep the access token where only their internals can forget it. So the
requests are built here, as the library builds them (same URL, query, JSON body and headers,
its user agent), and the library's public `AccessTokenClient` exchanges the refresh token and
caches the access token. Its quirks are in docs/reference/sp-api.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from opayo_fba.amazon.credentials import SellerCredentials

if TYPE_CHECKING:
    from sp_api.base import AccessTokenClient, ApiResponse

_BODY_METHODS = ("POST", "PUT", "PATCH")


class SpApiHttpError(Exception):
    """Amazon answered with an error: its HTTP status and the first entry of its error list.

    `errors` is empty when the body was no SP-API error list (a proxy's 502 page, say); the
    code is then "HttpError" and the message the start of the body.
    """

    def __init__(
        self,
        status: int,
        *,
        errors: list[dict[str, Any]],
        text: str,
        headers: Mapping[str, str],
    ) -> None:
        first = errors[0] if errors else {}
        self.status = status
        self.errors = errors
        self.headers = headers
        self.code = str(first.get("code") or ("HttpError" if not errors else "Unknown"))
        self.message = str(first.get("message") or "") if errors else f"HTTP {status}: {text[:200]}"
        super().__init__(f"HTTP {status} {self.code}: {self.message}")


@cache
def lwa_client_class(lwa_url: str) -> type[AccessTokenClient]:
    """The library's LWA client aimed at `lwa_url` (it reads the URL from class attributes)."""
    from sp_api.auth import AccessTokenClient

    parts = urlsplit(lwa_url)
    configured: type[AccessTokenClient] = type(
        "ConfiguredAccessTokenClient",
        (AccessTokenClient,),
        {"scheme": f"{parts.scheme}://", "host": parts.netloc, "path": parts.path},
    )
    return configured


def forget_access_token(token: str) -> None:
    """Drop `token` from the library's process-wide token cache (other sellers' stay)."""
    from sp_api.auth import access_token_client

    tokens = access_token_client.cache
    for key, value in list(tokens.items()):
        if isinstance(value, Mapping) and value.get("access_token") == token:
            tokens.pop(key, None)


class SpApiTransport:
    """Sends one SP-API request and reads its answer: an `ApiResponse` or `SpApiHttpError`."""

    def __init__(
        self, credentials: SellerCredentials, *, endpoint: str, lwa_url: str, http: httpx.Client
    ) -> None:
        self._credentials = credentials
        self._endpoint = endpoint.rstrip("/")
        self._lwa_url = lwa_url
        self._http = http
        self._lwa: AccessTokenClient | None = None
        self._user_agent = ""

    def prepare(self) -> None:
        """Import the library and build its LWA client now, not on the first call."""
        self._token_client()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> ApiResponse:
        """A 403 with an error list also forgets the token it refused, so that asking again
        exchanges the refresh token for a fresh one (the library would keep it for an hour)."""
        token = self._token_client().get_auth().access_token
        response = self._http.request(
            method,
            self._endpoint + path,
            params=dict(params or {}),
            content=json.dumps(dict(body)) if body and method in _BODY_METHODS else None,
            headers={
                "user-agent": self._user_agent,
                "x-amz-access-token": token,
                "x-amz-date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
                "content-type": "application/json",
            },
        )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if response.status_code >= 400 or errors:
            error = SpApiHttpError(
                response.status_code,
                errors=list(errors or []),
                text=response.text,
                headers=response.headers,
            )
            if error.status == 403 and error.errors:
                forget_access_token(token)
            raise error
        from sp_api.base import ApiResponse

        return ApiResponse(
            **(payload if isinstance(payload, dict) else {}), headers=response.headers
        )

    def _token_client(self) -> AccessTokenClient:
        if self._lwa is None:
            from sp_api.base import BaseClient, CredentialProvider

            credentials = CredentialProvider(credentials=self._credentials.sp_api_credentials())
            self._lwa = lwa_client_class(self._lwa_url)(credentials=credentials.credentials)
            self._user_agent = BaseClient.user_agent
        return self._lwa
