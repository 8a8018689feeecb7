"""Opayo's "Valid IPs": Server and Direct posts are accepted only from addresses the vendor
registered in MyOpayo (Settings > Valid IPs; test and live accounts separately).

Sources: Sage Pay's support article "Adding an IP Address to your account"
(sagepay.es/support/my-sage-pay/settings/valid-ip/adding-an-ip-address-to-your-account) for
the rule; Khaos Control's "Understand Card Processing Error Messages"
(support.khaoscontrol.com) and atomiku.com's "SagePay Direct: Error 4020" for the refusal,
`INVALID` with `4020 : Information received from an Invalid IP address.` The sandbox compares
the TCP peer address exactly (Opayo's subnet masks are not modelled: our assumption).

`GET /_sandbox/valid-ips` shows the list; `POST /_sandbox/valid-ips {"ips": [...]}` sets it.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sandbox.opayo.context import SandboxContext

INVALID_IP_CODE = 4020
INVALID_IP_DETAIL = "Information received from an Invalid IP address."


class ValidIps(BaseModel):
    ips: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("ips")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return [str(ipaddress.ip_address(value.strip())) for value in values]


def peer_address(request: Request) -> str:
    return request.client.host if request.client is not None else ""


# rule: OPAYO-SHP-12
def is_registered(context: SandboxContext, address: str) -> bool:
    try:
        return str(ipaddress.ip_address(address)) in context.valid_ips
    except ValueError:
        return False


# rule: OPAYO-SHP-11
def refuse_unregistered(request: Request, protocol: str) -> PlainTextResponse | None:
    """Opayo's refusal when the post does not come from a Valid IP, else None."""
    context: SandboxContext = request.app.state.opayo
    if is_registered(context, peer_address(request)):
        return None
    lines = {
        "VPSProtocol": protocol,
        "Status": "INVALID",
        "StatusDetail": f"{INVALID_IP_CODE} : {INVALID_IP_DETAIL}",
    }
    return PlainTextResponse("".join(f"{k}={v}\r\n" for k, v in lines.items()))


async def get_valid_ips(request: Request) -> JSONResponse:
    context: SandboxContext = request.app.state.opayo
    return JSONResponse({"ips": list(context.valid_ips)})


async def set_valid_ips(request: Request) -> JSONResponse:
    context: SandboxContext = request.app.state.opayo
    try:
        body = ValidIps.model_validate_json(await request.body())
    except ValidationError as error:
        return JSONResponse(
            {
                "error": "invalid request",
                "details": error.errors(include_url=False, include_context=False),
            },
            400,
        )
    context.valid_ips = list(body.ips)
    return JSONResponse({"ips": context.valid_ips})


def valid_ip_routes() -> list[Route]:
    return [
        Route("/_sandbox/valid-ips", get_valid_ips, methods=["GET"]),
        Route("/_sandbox/valid-ips", set_valid_ips, methods=["POST"]),
    ]
