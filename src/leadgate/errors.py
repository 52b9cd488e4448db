"""The §7 error shape and the exception handlers that make every failure use it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadgate.context import current_request_id
from leadgate.db import DATABASE_ERRORS, database_unavailable
from leadgate.redaction import redact_path
from leadgate.responses import JsonResponse

log = structlog.get_logger("leadgate.errors")


class ApiError(Exception):
    """A failure the client is told about. Subclasses fix status and code."""

    status_code = 400
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code


class InvalidRequest(ApiError):
    pass


class InvalidApiKey(ApiError):
    status_code = 401
    code = "invalid_api_key"


class ApiKeyExpired(ApiError):
    status_code = 401
    code = "api_key_expired"


class MtlsRequired(ApiError):
    status_code = 401
    code = "mtls_required"


class InvalidSignature(ApiError):
    """A signed report (GitHub secret scanning) whose signature does not verify."""

    status_code = 401
    code = "invalid_signature"


class InsufficientScope(ApiError):
    status_code = 403
    code = "insufficient_scope"


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class TenantNotFound(ApiError):
    status_code = 404
    code = "tenant_not_found"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class DuplicateLead(ApiError):
    status_code = 409
    code = "duplicate_lead"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"


class QuotaExceeded(ApiError):
    status_code = 429
    code = "quota_exceeded"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "service_unavailable"


def error_body(
    code: str,
    message: str,
    details: Sequence[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": code,
        "message": message,
        "details": list(details),
        "requestId": current_request_id(),
    }
    if extra:
        body.update(extra)
    return body


def error_response(error: ApiError) -> JsonResponse:
    return JsonResponse(
        error_body(error.code, error.message, error.details, error.extra),
        status_code=error.status_code,
        headers=error.headers,
    )


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors as `{"field", "message", "type"}`, the field path without the 'body' root."""
    details = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body",)]
        details.append(
            {
                "field": ".".join(loc) or None,
                "message": str(err.get("msg", "invalid")).removeprefix("Value error, "),
                "type": err.get("type", "invalid"),
            }
        )
    return details


_HTTP_CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _api_error(_request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


MAX_DETAILS = 100  # a body with 10,000 bad fields must not get a megabyte of error back


async def _validation_error(_request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    errors = exc.errors()
    message = "The request did not pass validation."
    if len(errors) > MAX_DETAILS:
        message = (
            f"The request did not pass validation: {len(errors)} problems, "
            f"the first {MAX_DETAILS} listed."
        )
    details = validation_details(errors[:MAX_DETAILS])
    return error_response(InvalidRequest(message, details=details))


async def _http_error(_request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(
        exc.status_code, "invalid_request" if exc.status_code < 500 else "internal_error"
    )
    message = {
        404: "No such route.",
        405: "Method not allowed on this route.",
    }.get(exc.status_code, str(exc.detail))
    return error_response(
        ApiError(message, status_code=exc.status_code, code=code, headers=exc.headers)
    )


def database_unavailable_error(retry_after: int) -> ServiceUnavailable:
    return ServiceUnavailable(
        "The database is unavailable at the moment. Retry shortly.",
        headers={"Retry-After": str(retry_after)},
    )


async def _database_error(request: Request, exc: Exception) -> JsonResponse:
    """503 while the database cannot be reached; any other database error stays a 500."""
    if not database_unavailable(exc):
        raise exc  # to the catch-all handler: logged with its traceback, answered 500
    log.warning(
        "database_unavailable",
        path=redact_path(request.url.path),
        error=type(exc).__name__,
        cause=str(getattr(exc, "orig", None) or exc)[:200],  # the driver's words, not the SQL
    )
    settings = request.app.state.settings
    return error_response(database_unavailable_error(settings.db_retry_after_seconds))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    for error_type in DATABASE_ERRORS:
        app.add_exception_handler(error_type, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
