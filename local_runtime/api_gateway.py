"""Serve the template's API Gateway REST routes over HTTP as Lambda proxy events.

Routes come from the template's `AWS::ApiGateway::Resource` tree and `AWS::ApiGateway::Method`
integrations (AWS_PROXY to a function), so `curl` and the Opayo sandbox's notifications reach
the real handler through the same event shape API Gateway sends.

As API Gateway does, a body over the 10 MB payload quota is a 413 and, on a route with body
validation, a body that is not JSON matching the model (or nested absurdly deep) is a 400
`Invalid request body` before any function runs; other routes pass the body through as it
came. Sources and assumptions: README.md, "The local runtime and API Gateway".
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local_runtime.lambda_bridge import InProcessLambdas
from local_runtime.template import Template

log = logging.getLogger("local_runtime.api")


@dataclass(frozen=True)
class ApiRoute:
    method: str
    resource: str  # "/webhooks/opayo/{vendor}"
    function: str  # ARN
    pattern: re.Pattern[str]
    # The request model API Gateway validates the JSON body against, when a validator says so.
    body_schema: dict[str, Any] | None = None


def _parent_of(parent: Any) -> str | None:
    """The logical id of a resource's parent, or None for the API's root."""
    if isinstance(parent, dict) and "Ref" in parent:
        return str(parent["Ref"])
    return None


def routes_from_template(template: Template) -> list[ApiRoute]:
    resources = {r.logical_id: r for r in template.of_type("AWS::ApiGateway::Resource")}

    def path_of(logical_id: str | None) -> str:
        parts: list[str] = []
        while logical_id is not None:
            resource = resources[logical_id]
            parts.append(str(resource.properties["PathPart"]))
            logical_id = _parent_of(resource.properties.get("ParentId"))
        return "/" + "/".join(reversed(parts))

    routes = []
    for method in template.of_type("AWS::ApiGateway::Method"):
        integration = method.properties.get("Integration") or {}
        if integration.get("Type") != "AWS_PROXY":
            continue
        uri = str(template.resolve(integration["Uri"]))
        match = re.search(r"functions/(.+)/invocations", uri)
        if match is None:
            continue
        resource_path = path_of(_parent_of(method.properties.get("ResourceId")))
        pattern = re.compile(
            "^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource_path)) + "$"
        )
        routes.append(
            ApiRoute(
                str(method.properties["HttpMethod"]),
                resource_path,
                match.group(1),
                pattern,
                _body_schema(template, method.properties),
            )
        )
    return routes


def _body_schema(template: Template, method: dict[str, Any]) -> dict[str, Any] | None:
    validator = method.get("RequestValidatorId")
    model = (method.get("RequestModels") or {}).get("application/json")
    if not (isinstance(validator, dict) and isinstance(model, dict)):
        return None
    validates = template.resources[validator["Ref"]].properties.get("ValidateRequestBody")
    if not validates:
        return None
    schema: dict[str, Any] = template.resources[model["Ref"]].properties["Schema"]
    return schema


# API Gateway's REST payload quota (docs.aws.amazon.com/apigateway/latest/developerguide/
# api-gateway-execution-service-limits-table.html: "Payload size 10 MB").
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# How deep a JSON body the request validator will parse. AWS publishes no figure; our
# assumption is that a body nested deeper than this is refused like any other invalid body.
MAX_VALIDATED_JSON_DEPTH = 128
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """The deepest nesting of a JSON text, counted without parsing (strings skipped)."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_JSON_STRING.sub(b'""', body)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def body_is_valid(schema: dict[str, Any], body: bytes) -> bool:
    """API Gateway's request validation: the body parses as JSON and matches the model.

    A body that is not UTF-8 JSON, or is nested deeper than MAX_VALIDATED_JSON_DEPTH, is
    invalid; the validator never gets to recurse into it.
    """
    from jsonschema import Draft4Validator

    if json_depth(body) > MAX_VALIDATED_JSON_DEPTH:
        return False
    try:
        document = json.loads(body or b"null")
    except (ValueError, RecursionError):
        return False
    try:
        return bool(Draft4Validator(schema).is_valid(document))
    except RecursionError:
        return False


def proxy_event(request: Request, route: ApiRoute, path_params: dict[str, str], body: bytes) -> Any:
    """The REST API (v1) Lambda proxy event for this request."""
    text: str | None
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    headers = dict(request.headers)
    query = dict(request.query_params)
    now = datetime.now(UTC)
    return {
        "resource": route.resource,
        "path": request.url.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {k: request.headers.getlist(k) for k in headers},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": (
            {k: request.query_params.getlist(k) for k in query} or None
        ),
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "path": request.url.path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": request.client.host if request.client else "127.0.0.1"},
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
        },
        "body": text if text else None,
        "isBase64Encoded": is_base64,
    }


def reply_headers(reply: dict[str, Any]) -> list[tuple[str, str]]:
    """The reply's `headers` and `multiValueHeaders`, merged as API Gateway merges them
    ("Set up Lambda proxy integrations in API Gateway", output format: a name in both gets
    the values of both; Powertools' REST resolver answers with `multiValueHeaders`)."""
    single = {k: str(v) for k, v in (reply.get("headers") or {}).items()}
    merged: list[tuple[str, str]] = []
    for name, values in (reply.get("multiValueHeaders") or {}).items():
        merged.extend((name, str(value)) for value in values)
        if name in single:
            merged.append((name, single.pop(name)))
    return merged + list(single.items())


def create_api_app(routes: list[ApiRoute], lambdas: InProcessLambdas) -> Starlette:
    async def dispatch(request: Request) -> Response:
        path = request.url.path
        candidates = [(r, r.pattern.match(path)) for r in routes]
        matching = [(r, m) for r, m in candidates if m is not None]
        if not matching:
            return JSONResponse({"message": "Missing Authentication Token"}, 403)
        for route, found in matching:
            if route.method in (request.method, "ANY"):
                body = await request.body()
                if len(body) > MAX_PAYLOAD_BYTES:
                    return JSONResponse({"message": "Request Too Long"}, 413)
                if route.body_schema is not None and not body_is_valid(route.body_schema, body):
                    return JSONResponse({"message": "Invalid request body"}, 400)
                event = proxy_event(request, route, found.groupdict(), body)
                # In a worker thread: one slow function must not hold up the other routes.
                invocation = await run_in_threadpool(lambdas.invoke, route.function, event)
                if invocation.error_type is not None:
                    log.error(
                        "%s %s: %s failed: %s: %s",
                        request.method,
                        path,
                        invocation.function,
                        invocation.error_type,
                        invocation.error_message,
                    )
                    return JSONResponse({"message": "Internal server error"}, 502)
                reply = invocation.payload or {}
                text = reply.get("body") or ""
                content = base64.b64decode(text) if reply.get("isBase64Encoded") else text
                response = Response(content=content, status_code=int(reply.get("statusCode", 200)))
                for name, value in reply_headers(reply):
                    response.headers.append(name, value)
                return response
        return JSONResponse({"message": "Method Not Allowed"}, 405)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", dispatch, methods=methods)])
