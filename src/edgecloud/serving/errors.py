"""The HTTP edge of the error hierarchy: request bodies are read with a size cap and validated into
pydantic models, and every failure becomes an OpenAI-style JSON error with the right status."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgecloud.errors import EdgecloudError, InvalidRequest, NotFound, PayloadTooLarge
from edgecloud.strict_json import parse_json

log = logging.getLogger(__name__)
BodyT = TypeVar("BodyT", bound=BaseModel)


def error_response(exc: EdgecloudError) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


async def read_bytes(request: Request, max_bytes: int) -> bytes:
    """The raw body; stops reading (413) as soon as it passes max_bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"request body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, max_bytes: int) -> Any:
    """The parsed JSON body of at most max_bytes."""
    raw = await read_bytes(request, max_bytes)
    if not raw:
        raise InvalidRequest("request body is empty; expected a JSON object")
    return parse_json(raw)


def validate(model: type[BodyT], data: Any) -> BodyT:
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        message = f"{first['msg']}" + (f" (at '{param}')" if param else "")
        raise InvalidRequest(message, param=param) from None


async def parse_body(request: Request, model: type[BodyT], max_bytes: int) -> BodyT:
    return validate(model, await read_json(request, max_bytes))


async def handle_edgecloud_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EdgecloudError)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"no route for {request.method} {request.url.path}"))
    error = EdgecloudError(str(exc.detail))
    error.status = exc.status_code
    error.error_type = "invalid_request_error"
    return error_response(error)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Last resort: a bug is logged with its traceback, the client gets a clean 500 without one."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(EdgecloudError("internal error; the server log has the details"))


EXCEPTION_HANDLERS = {
    EdgecloudError: handle_edgecloud_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
