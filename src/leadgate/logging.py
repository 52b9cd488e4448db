"""Structured logs: one JSON object per line (or readable lines in a terminal), with the request
and tenant ids of the request being served bound from context on every line."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from leadgate.context import current_request_id, current_tenant_id


def _add_request_context(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Every line logged while a request is served names it, and its tenant once known."""
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("request_id", request_id)
        event.setdefault("tenant_id", current_tenant_id())
    return event


def _orjson_text(value: Any, default: Any = None, **_ignored: Any) -> str:
    """JSON lines through orjson: the access log writes one per request."""
    return orjson.dumps(value, default=default or str).decode()


def configure_logging(
    level: str = "INFO", *, json: bool = True, stream: TextIO | None = None
) -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_text)
        if json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_request_context,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
