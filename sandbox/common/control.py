"""The `/_sandbox/...` control routes both sandboxes serve: clock and fault injection."""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.common.faults import FaultConfig, FaultInjector, describe


class _Advance(BaseModel):
    seconds: float = Field(ge=0)


class _Factor(BaseModel):
    factor: float = Field(ge=0)


def _bad_request(error: ValidationError) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid request", "details": error.errors(include_url=False)}, 400
    )


async def get_clock(request: Request) -> JSONResponse:
    clock = request.app.state.clock
    return JSONResponse({"now": clock.now().isoformat(), "factor": clock.factor})


async def advance_clock(request: Request) -> JSONResponse:
    try:
        body = _Advance.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    request.app.state.clock.advance(body.seconds)
    return await get_clock(request)


async def set_clock_factor(request: Request) -> JSONResponse:
    try:
        body = _Factor.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    request.app.state.clock.set_factor(body.factor)
    return await get_clock(request)


async def get_faults(request: Request) -> JSONResponse:
    injector: FaultInjector = request.app.state.faults
    return JSONResponse(describe(injector))


async def set_faults(request: Request) -> JSONResponse:
    try:
        config = FaultConfig.model_validate_json(await request.body())
    except ValidationError as error:
        return _bad_request(error)
    request.app.state.faults.configure(config)
    return await get_faults(request)


async def clear_faults(request: Request) -> JSONResponse:
    request.app.state.faults.configure(FaultConfig())
    return await get_faults(request)


def control_routes() -> list[Route]:
    """Routes that read `app.state.clock` (SandboxClock) and `app.state.faults`."""
    return [
        Route("/_sandbox/clock", get_clock, methods=["GET"]),
        Route("/_sandbox/clock/advance", advance_clock, methods=["POST"]),
        Route("/_sandbox/clock/factor", set_clock_factor, methods=["POST"]),
        Route("/_sandbox/faults", get_faults, methods=["GET"]),
        Route("/_sandbox/faults", set_faults, methods=["POST"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    ]
