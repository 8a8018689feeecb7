"""The resolver every HTTP function uses: Powertools' `APIGatewayRestResolver` with request
validation, our exception handlers, and the screening the API has always done before a
request reaches its model.

What Powertools would do differently, and why it does not here:
- a path parameter is whatever one path segment holds, as API Gateway's `{orderId}` is (it
  has already routed the request), and its value is API Gateway's `pathParameters` (decoded
  as API Gateway decodes it), not a piece of `path`. Powertools' own alphabet leaves out `#`,
  which order ids may hold, and answers 404 for a segment it does not like (its issues #1736,
  #3006): here the parameter's type decides, and a bad order id is a 400 saying so.
- a body is bounded, decoded as UTF-8 and screened before it is parsed
  (`RequestBody.document`): too large is a 413, not UTF-8, nested too deep or carrying a card
  number anywhere is a 400 with the reason, and none of it is ever echoed. Only then does
  Powertools validate it against the route's model (a 400 naming the field, never a 422).
- a body is JSON whatever its Content-Type says (Powertools would parse multipart or form
  bodies, or answer 415): a multipart/form-data body without a boundary was a 502 (found by
  the Schemathesis test, tests/e2e/test_api_fuzz.py).
- a card number in the path or the query string (names or values) is a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

import pydantic_core
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel, ValidatorFunctionWrapHandler, WrapValidator
from pydantic import ValidationError as ModelValidationError

from opayo_fba.api.documented import resolve_models
from opayo_fba.api.errors import register_error_handlers
from opayo_fba.card_numbers import contains_card_number
from opayo_fba.errors import InvalidInputError
from opayo_fba.http_input import CARD_NUMBER_REFUSED, body_text, screen_parameters
from opayo_fba.model import OrderId

_DYNAMIC_SEGMENT = re.compile(r"<(\w+)>")
NOT_AN_ORDER_ID = "orderId is not an order id (1-64 of letters, digits and . _ : / # -)"


def _order_id_or_refuse(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, str) and contains_card_number(value):
        raise InvalidInputError(CARD_NUMBER_REFUSED)
    try:
        return handler(value)
    except ModelValidationError:
        raise InvalidInputError(NOT_AN_ORDER_ID) from None


OrderIdPath = Annotated[OrderId, WrapValidator(_order_id_or_refuse)]
"""`{orderId}` of a path: an OrderId (the document says which), refused with a reason (the
InvalidInputError passes through pydantic to the exception handlers), never echoed."""


@dataclass(frozen=True)
class RequestBody:
    """A route's JSON body: its model (named for the error messages) and its bounds."""

    model: type[BaseModel]
    what: str  # "order", "refund", ...: "the order request is 120000 bytes; ..."
    max_bytes: int
    max_depth: int

    def document(self, text: str) -> Any:
        """The body's JSON, once it is bounded and screened (`parse_request`'s checks); a
        body that is not a JSON object is refused exactly as the model refuses it."""
        from opayo_fba.intake.orders import screen_request

        screen_request(text, what=self.what, max_bytes=self.max_bytes, max_depth=self.max_depth)
        try:
            document = pydantic_core.from_json(text)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            self.model.model_validate_json(text)  # raises the model's own ValidationError
            raise InvalidInputError(f"the {self.what} request is not a JSON object")
        return document


class _ScreenedEvent(APIGatewayProxyEvent):
    """The proxy event with the body bounded and decoded as `http_input.body_text` does."""

    max_bytes: int = 0

    @cached_property
    def decoded_body(self) -> str | None:
        return body_text(self.raw_event, max_bytes=self.max_bytes)

    @cached_property
    def json_body(self) -> Any:
        # An empty body too is the deserializer's to refuse, as the model refuses it.
        return self._json_deserializer(self.decoded_body or "")


class _JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, with the body read as JSON whatever its Content-Type
    says, as the API always has: Powertools would parse a multipart/form-data body (and fail
    with a ValueError, a 502, on one without a boundary), a form body, or answer 415."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def _get_body(self, app: Any) -> Any:
        return app.current_event.json_body


class ApiResolver(APIGatewayRestResolver):
    """`APIGatewayRestResolver` for a route API Gateway has already matched (module doc)."""

    def __init__(self, body: RequestBody | None = None) -> None:
        super().__init__(
            enable_validation=True,
            json_body_deserializer=body.document if body else None,
        )
        self._body = body
        self._request_validation_middleware = _JsonBodyValidation()
        register_error_handlers(self)
        self.use([_refuse_card_numbers_in_parameters])

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        """Powertools' resolve, once the routes' reply models are in place: the first request
        analyses them (api/documented.py), the cold start does not import them."""
        resolve_models()
        return super().resolve(event, context)

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}$") -> re.Pattern[str]:
        return re.compile(base_regex.format(_DYNAMIC_SEGMENT.sub(r"(?P<\1>[^/]+)", rule)))

    def _convert_matches_into_route_keys(self, match: re.Match[str]) -> dict[str, str]:
        # API Gateway's own decoding of each parameter, as the handlers always read them.
        decoded = self.current_event.path_parameters or {}
        return {name: decoded.get(name, value) for name, value in match.groupdict().items()}

    def _to_proxy_event(self, event: dict[str, Any]) -> APIGatewayProxyEvent:
        if self._body is None:  # no JSON body (GET, or the webhook's form it reads raw)
            return APIGatewayProxyEvent(event)
        screened = _ScreenedEvent(event, self._json_body_deserializer)
        screened.max_bytes = self._body.max_bytes
        return screened


def _refuse_card_numbers_in_parameters(app: Any, next_middleware: NextMiddleware) -> Response[Any]:
    screen_parameters(app.current_event.raw_event)
    return next_middleware(app)


def new_router() -> Router:
    """A route module's Powertools Router (typed here, once)."""
    return Router()  # type: ignore[no-untyped-call]


def api_for(router: Router, body: RequestBody | None = None) -> ApiResolver:
    """The resolver of one function: its route(s), its body's bounds."""
    app = ApiResolver(body)
    app.include_router(router)
    return app
