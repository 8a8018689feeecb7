"""The API's OpenAPI document, generated from the routes and their pydantic models.

`python -m opayo_fba.api.openapi --write docs/openapi.json` writes it; a contract test fails
when the file is stale, the stack's API Gateway request models are generated from it
(infra/api_models.py), and the Schemathesis test fuzzes the local runtime from it.

What Powertools would add and this API never answers is left out: its 422 (a request that
breaks its model is a 400 naming the field, opayo_fba.api.errors) and the schemas of it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from opayo_fba.api.documented import resolve_models
from opayo_fba.api.resolver import ApiResolver
from opayo_fba.api.routes import (
    opayo_webhook,
    order_3ds_challenge,
    order_cancel,
    order_intake,
    order_refund,
    order_resubmit,
    order_return,
    order_status,
)

TITLE = "opayo-fba"
VERSION = "1"
DESCRIPTION = (
    "Orders from the shop or ERP, paid through Opayo and fulfilled by Amazon FBA "
    "Multi-Channel Fulfillment; Opayo Server's signed notifications. The order routes are "
    "called with AWS IAM (SigV4) credentials; the webhook is signed by Opayo."
)
ROUTERS = (
    order_intake.router,
    order_status.router,
    order_cancel.router,
    order_3ds_challenge.router,
    order_refund.router,
    order_return.router,
    order_resubmit.router,
    opayo_webhook.router,
)
_NEVER_ANSWERED = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def document() -> dict[str, Any]:
    """The OpenAPI document of every route."""
    resolve_models()
    app = ApiResolver()
    for router in ROUTERS:
        app.include_router(router)
    generated: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    )
    for operations in generated["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
    schemas = generated.get("components", {}).get("schemas", {})
    for name in _NEVER_ANSWERED:
        schemas.pop(name, None)
    return generated


def render() -> str:
    """The document as docs/openapi.json holds it."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opayo_fba.api.openapi",
        description="Generate the API's OpenAPI document from its routes and models.",
    )
    parser.add_argument(
        "--write", type=Path, metavar="FILE", help="write it here (default: print it)"
    )
    options = parser.parse_args(argv)
    text = render()
    if options.write is None:
        print(text, end="")
    else:
        options.write.write_text(text, encoding="utf-8")
        print(options.write)
    return 0


if __name__ == "__main__":  # python -m opayo_fba.api.openapi --write docs/openapi.json
    raise SystemExit(main())
