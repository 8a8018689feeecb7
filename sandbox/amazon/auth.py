"""Login with Amazon (`POST /auth/o2/token`), access-token checks and Restricted Data Tokens.

Tokens are random strings kept in the state store with an expiry on the sandbox clock, so a
jump of the clock past `expires_in` makes them fail exactly as Amazon's do.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse

from sandbox.amazon.errors import invalid_input, unauthorized
from sandbox.amazon.state import AmazonState, ApiCall

TOKEN_LIFETIME_SECONDS = 3600
GRANTLESS_SCOPES = frozenset({"sellingpartnerapi::notifications", "sellingpartnerapi::migration"})
RESTRICTED_ELEMENTS = frozenset({"buyerInfo", "shippingAddress", "buyerTaxInformation"})


@dataclass(frozen=True)
class Caller:
    seller_id: str
    kind: str  # "seller", "grantless" or "rdt"
    resources: tuple[tuple[str, str, frozenset[str]], ...] = ()


# The name fault rules use for the LWA token endpoint (it has no SP-API operationId).
LWA_OPERATION = "lwaToken"


def lwa_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status)


def _lwa_error(code: str, description: str) -> JSONResponse:
    return lwa_error(400, code, description)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def lwa_token(request: Request) -> JSONResponse:
    """The LWA token endpoint: refresh_token and client_credentials grants."""
    state: AmazonState = request.app.state.amazon
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
    creds = state.credentials
    grant_type = form.get("grant_type", "")
    if grant_type not in ("refresh_token", "client_credentials"):
        return _lwa_error(
            "unsupported_grant_type",
            f"grant_type {grant_type!r} is not supported; use refresh_token or client_credentials",
        )
    if not _same(form.get("client_id", ""), creds.client_id) or not _same(
        form.get("client_secret", ""), creds.client_secret
    ):
        return _lwa_error(
            "invalid_client", "Client authentication failed (client_id/client_secret)"
        )
    if grant_type == "refresh_token":
        if not _same(form.get("refresh_token", ""), creds.refresh_token):
            return _lwa_error("invalid_grant", "The refresh_token is invalid or expired")
        kind, refresh = "seller", creds.refresh_token
    else:
        scope = form.get("scope", "")
        if scope not in GRANTLESS_SCOPES:
            return _lwa_error("invalid_scope", f"scope must be one of {sorted(GRANTLESS_SCOPES)}")
        kind, refresh = "grantless", ""
    token = issue_token(state, kind, "Atza|")
    body: dict[str, Any] = {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME_SECONDS,
    }
    if refresh:
        body["refresh_token"] = refresh
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def issue_token(
    state: AmazonState, kind: str, prefix: str, resources: list[dict[str, Any]] | None = None
) -> str:
    token = state.token(prefix)
    state.store.put(
        "access_token",
        token,
        {
            "kind": kind,
            "seller_id": state.credentials.seller_id,
            "expires": state.now().timestamp() + state.options.token_lifetime_seconds,
            "resources": resources or [],
        },
    )
    return token


def authenticate(state: AmazonState, request: Request) -> Caller:
    """The caller behind `x-amz-access-token`, or a 403 with an SP-API ErrorList."""
    token = request.headers.get("x-amz-access-token", "")
    if not token:
        raise unauthorized("The request has no x-amz-access-token header.")
    record = state.store.get("access_token", token)
    if record is None:
        raise unauthorized("The access token you provided is revoked, malformed or invalid.")
    if record["expires"] <= state.now().timestamp():
        raise unauthorized("The access token you provided has expired.")
    if record["kind"] == "grantless":
        raise unauthorized("A grantless token cannot call seller APIs; use a refresh_token grant.")
    resources = tuple(
        (r["method"], r["path"], frozenset(r.get("dataElements") or []))
        for r in record["resources"]
    )
    return Caller(record["seller_id"], record["kind"], resources)


def _path_matches(template: str, path: str) -> bool:
    pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
    return re.match(pattern, path) is not None


def restricted_elements(caller: Caller, method: str, path: str) -> frozenset[str]:
    """What PII the caller may see on this path; 403 if an RDT is used off its resources."""
    if caller.kind != "rdt":
        return frozenset()
    for res_method, res_path, elements in caller.resources:
        if res_method == method and _path_matches(res_path, path):
            return elements
    raise unauthorized(f"The Restricted Data Token does not cover {method} {path}.")


def create_restricted_data_token(state: AmazonState, call: ApiCall) -> tuple[int, dict[str, Any]]:
    resources = call.body["restrictedResources"]
    if not resources:
        raise invalid_input("restrictedResources must not be empty.", "restrictedResources")
    for index, resource in enumerate(resources):
        path = resource["path"]
        if not path.startswith("/orders/v0/orders"):
            raise invalid_input(
                f"restrictedResources[{index}].path {path!r} is not a restricted operation.",
                f"restrictedResources[{index}].path",
            )
        unknown = set(resource.get("dataElements") or []) - RESTRICTED_ELEMENTS
        if unknown:
            raise invalid_input(
                f"restrictedResources[{index}].dataElements has unknown values {sorted(unknown)}.",
                f"restrictedResources[{index}].dataElements",
            )
    token = issue_token(
        state,
        "rdt",
        "Atz.sprdt|",
        [
            {"method": r["method"], "path": r["path"], "dataElements": r.get("dataElements") or []}
            for r in resources
        ],
    )
    return 200, {"restrictedDataToken": token, "expiresIn": TOKEN_LIFETIME_SECONDS}
