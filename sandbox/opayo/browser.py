"""What the shopper's browser does with a 3-D Secure challenge, for tests and the demo.

It posts `creq` and `threeDSSessionData` to the `acsUrl`, answers the bank's page, and reads
the auto-submitting form the ACS returns: the `cres` and `threeDSSessionData` a real browser
would post to the shop's notificationURL. The shop's page then hands them to the merchant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

import httpx

_FORM = re.compile(r"<form[^>]*action='([^']*)'[^>]*>(.*?)</form>", re.S)
_HIDDEN = re.compile(r"<input type='hidden' name='([^']*)' value='([^']*)'>")


@dataclass(frozen=True)
class ChallengeReturn:
    """What the ACS sends back through the browser to the notificationURL."""

    notification_url: str
    c_res: str
    three_ds_session_data: str | None


def _form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    page.raise_for_status()
    match = _FORM.search(page.text)
    if match is None:
        raise AssertionError(f"no form on the ACS page: {page.text[:200]}")
    fields = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(match.group(2))}
    return unescape(match.group(1)), fields


# rule: OPAYO-SBX-05
def answer_challenge(
    acs_url: str,
    c_req: str,
    three_ds_session_data: str | None,
    *,
    authenticate: bool = True,
    client: httpx.Client | None = None,
) -> ChallengeReturn:
    """Go through the sandbox ACS as the shopper; return what it posts to the shop."""
    http = client or httpx.Client(timeout=10)
    try:
        first = {"creq": c_req}
        if three_ds_session_data is not None:
            first["threeDSSessionData"] = three_ds_session_data
        action, fields = _form(http.post(acs_url, data=first))
        fields["outcome"] = "authenticate" if authenticate else "fail"
        notification_url, returned = _form(http.post(action, data=fields))
    finally:
        if client is None:
            http.close()
    return ChallengeReturn(notification_url, returned["cres"], returned.get("threeDSSessionData"))
