"""Reading `application/x-www-form-urlencoded` bodies without python-multipart.

Opayo's Server and Reporting protocols only ever send url-encoded forms, which the standard
library decodes; a multipart body is refused rather than half-read.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request


class FormError(ValueError):
    pass


# rule: OPAYO-SRV-08
async def read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", ""):
        raise FormError(f"expected application/x-www-form-urlencoded, not {content_type}")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as error:
        raise FormError("the form is not UTF-8") from error
    return dict(parse_qsl(text, keep_blank_values=True))
