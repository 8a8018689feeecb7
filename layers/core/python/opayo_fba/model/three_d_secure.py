"""3-D Secure 2 (SCA) on the card path: the shopper's browser data, and a challenge in progress.

`StrongCustomerAuthentication` is the object Opayo Pi requires on every Ecommerce Payment or
Deferred (Elavon, "3D Secure Authentication": "You must submit the strongCustomerAuthentication
object with your initial transaction request"). Its fields, names and enumerations follow the
public Pi client academe/opayo-pi (src/Request/Model/StrongCustomerAuthentication.php). The shop
collects them in the shopper's browser and sends them with the order; we pass them to Opayo.

`notificationURL` is the SHOP's page: the issuer's ACS posts `cres` and `threeDSSessionData`
there through the shopper's browser (academe/opayo-pi demo/notification.php), so it must be a
page the shopper can land on, and it cannot be our IAM-authorised API.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

ChallengeWindowSize = Literal["Small", "Medium", "Large", "ExtraLarge", "FullScreen"]
TransType = Literal[
    "GoodsAndServicePurchase",
    "CheckAcceptance",
    "AccountFunding",
    "QuasiCashTransaction",
    "PrepaidActivationAndLoad",
]
ColorDepth = Literal[1, 4, 8, 15, 16, 24, 32, 48]
_JAVASCRIPT_FIELDS = (
    "browser_color_depth",
    "browser_screen_height",
    "browser_screen_width",
    "browser_tz",
)


def _text(maximum: int) -> Any:
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=maximum)
    ]


class StrongCustomerAuthentication(BaseModel):
    """The shopper's browser data for 3-D Secure 2, in Pi's own field names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    notification_url: Annotated[
        str, StringConstraints(max_length=256, pattern=r"^https?://[^\s/]+(/\S*)?$")
    ] = Field(alias="notificationURL")
    """The shop's 3-D Secure return page; the ACS posts `cres` there via the browser."""
    browser_ip: str = Field(alias="browserIP", max_length=39)
    browser_accept_header: _text(2048) = Field(alias="browserAcceptHeader")  # type: ignore[valid-type]
    browser_javascript_enabled: bool = Field(alias="browserJavascriptEnabled")
    browser_language: _text(8) = Field(alias="browserLanguage")  # type: ignore[valid-type]
    browser_user_agent: _text(2048) = Field(alias="browserUserAgent")  # type: ignore[valid-type]
    challenge_window_size: ChallengeWindowSize = Field(alias="challengeWindowSize")
    trans_type: TransType = Field(default="GoodsAndServicePurchase", alias="transType")
    browser_java_enabled: bool | None = Field(default=None, alias="browserJavaEnabled")
    browser_color_depth: ColorDepth | None = Field(default=None, alias="browserColorDepth")
    browser_screen_height: int | None = Field(
        default=None, alias="browserScreenHeight", ge=1, le=99999
    )
    browser_screen_width: int | None = Field(
        default=None, alias="browserScreenWidth", ge=1, le=99999
    )
    browser_tz: int | None = Field(default=None, alias="browserTZ", ge=-840, le=840)
    """Minutes between UTC and the browser's local time (JavaScript getTimezoneOffset)."""

    @field_validator("browser_ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError("must be the shopper's IPv4 or IPv6 address") from None

    @field_validator("browser_color_depth", mode="before")
    @classmethod
    def _depth(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.isdigit() else value

    @model_validator(mode="after")
    def _javascript_fields(self) -> StrongCustomerAuthentication:
        if self.browser_javascript_enabled:
            missing = [
                str(type(self).model_fields[name].alias)
                for name in _JAVASCRIPT_FIELDS
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"with browserJavascriptEnabled true, {', '.join(missing)} are required"
                )
        return self

    def to_pi(self) -> dict[str, Any]:
        body = self.model_dump(by_alias=True, exclude_none=True)
        if "browserColorDepth" in body:
            body["browserColorDepth"] = str(body["browserColorDepth"])  # a string enum in Pi
        return body


ChallengeState = Literal["awaiting", "completing", "completed", "abandoned"]


class ThreeDSecureChallenge(BaseModel):
    """A 3-D Secure challenge Opayo asked for on an order's card payment."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    acs_url: str
    c_req: str
    three_ds_session_data: str
    """What the shop posts to the ACS with `creq`; the ACS hands it back with `cres`."""
    state: ChallengeState = "awaiting"
    created_at: datetime
    claimed_at: datetime | None = None
    """When a completion (our call to Pi's 3d-secure-challenge) began."""
    c_res_digest: str | None = None
    """SHA-256 of the cRes that completed it: a repeat with the same cRes is answered alike."""

    def for_shop(self, order_id: str) -> dict[str, str]:
        """What POST /orders answers (202) so the shop can send the shopper to the ACS."""
        return {
            "acsUrl": self.acs_url,
            "cReq": self.c_req,
            "threeDSSessionData": self.three_ds_session_data,
            "completeWith": f"/orders/{order_id}/3ds-challenge",
        }
