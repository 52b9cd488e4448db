"""Per-request context that logs and error bodies read without threading it through calls."""

from __future__ import annotations

from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_tenant_id: ContextVar[str | None] = ContextVar("tenant_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def current_tenant_id() -> str | None:
    return _tenant_id.get()


def start_request(request_id: str) -> None:
    """A new request: its id, and no tenant until a key or console session names one."""
    _request_id.set(request_id)
    _tenant_id.set(None)


def set_request_id(value: str) -> None:
    _request_id.set(value)


def set_tenant_id(value: str) -> None:
    _tenant_id.set(value)
