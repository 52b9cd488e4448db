"""The error body as an OpenAPI schema, shared by every router's `responses=`, and the responses
several routers answer with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import BaseModel, Field
from starlette.responses import Response, StreamingResponse


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str
    type: str | None = None


class ErrorBody(BaseModel):
    """Every error leadgate returns (PRODUCT.md §7)."""

    error: str = Field(description="Machine-readable code, e.g. `invalid_api_key`.")
    message: str = Field(description="What went wrong, for a person.")
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = Field(None, alias="requestId")


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid request: `details` lists the fields"),
    401: _error("Missing, invalid, expired or revoked API key"),
    403: _error("The key lacks a scope or team access"),
    404: _error("Not found, or unknown tenant"),
    413: _error("Body over the size limit"),
    415: _error("Unsupported content type"),
    429: _error("Rate limited"),
    500: _error("Internal error: retry safely"),
    503: _error("The database or Redis is unavailable: retry after `Retry-After`"),
}
CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {409: _error("Conflict")}


class JsonResponse(Response):
    """JSON via orjson, for bodies leadgate builds itself (errors); models serialize natively."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def csv_download(rows: AsyncIterator[str], filename: str) -> StreamingResponse:
    """CSV lines streamed as they are written, as a file the browser saves under `filename`."""
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
