"""The one exception hierarchy of edgecloud, each class carrying the HTTP status and OpenAI error type
it maps to, so every layer raises domain errors and only the HTTP edge turns them into JSON."""

from __future__ import annotations

from collections.abc import Mapping


class EdgecloudError(Exception):
    """Base of every error edgecloud raises on purpose."""

    status: int = 500
    error_type: str = "server_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers: dict[str, str] = dict(headers or {})

    def to_body(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI error shape: {"error": {"message", "type", "param", "code"}}."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(EdgecloudError):
    status = 400
    error_type = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    default_code = "context_length_exceeded"


class Unauthorized(EdgecloudError):
    status = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class Forbidden(EdgecloudError):
    status = 403
    error_type = "permission_error"


class NotFound(EdgecloudError):
    status = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class PayloadTooLarge(EdgecloudError):
    status = 413
    error_type = "invalid_request_error"
    default_code = "request_too_large"


class Overloaded(EdgecloudError):
    """The bounded queue is full: the client should retry after a short wait."""

    status = 429
    error_type = "rate_limit_error"
    default_code = "queue_full"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, round(retry_after)))})


class Unavailable(EdgecloudError):
    status = 503
    error_type = "service_unavailable"
    default_code = "unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, round(retry_after)))})


class UpstreamError(EdgecloudError):
    """An upstream server answered with an error or could not be reached."""

    status = 502
    error_type = "upstream_error"
    default_code = "bad_gateway"


class ModelFileError(EdgecloudError):
    """A bundled model file is missing, incomplete or fails its checksum."""

    default_code = "model_file_error"
