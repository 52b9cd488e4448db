"""Structured logs: one JSON object per line (or readable lines in a terminal), with the request
and tenant ids of the request being served bound from context on every line."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import sqlalchemy as sa
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


_DRIVER_MODULES = ("asyncpg", "sqlite3", "aiosqlite", "psycopg")


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and its causes, oldest first, as a traceback prints them."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return chain[::-1]


def _is_database_error(error: BaseException) -> bool:
    return isinstance(error, sa.exc.DBAPIError) or type(error).__module__.startswith(
        _DRIVER_MODULES
    )


def involves_database(error: BaseException) -> bool:
    return any(_is_database_error(e) for e in _chain(error))


def traceback_without_values(error: BaseException) -> str:
    """A database error's traceback with every exception's message left out: a driver's words
    may quote a bound value ("invalid input for query argument $1: 2147483648"), which
    `hide_parameters` does not reach. The statement (placeholders only) and SQLSTATE remain."""
    parts: list[str] = []
    for position, link in enumerate(_chain(error)):
        if position:
            parts.append("\nThe above exception led to the following exception:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        parts.append(f"{type(link).__module__}.{type(link).__qualname__}: {_summary(link)}\n")
    return "".join(parts)


def _summary(error: BaseException) -> str:
    if isinstance(error, sa.exc.DBAPIError):
        orig = error.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
        return f"{type(orig).__name__} (SQLSTATE {code}) [SQL: {error.statement}]"
    return "(message not logged: it may quote a value)"


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def _database_values_left_out(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    error = _exception_of(event.get("exc_info"))
    if error is not None and involves_database(error):
        del event["exc_info"]
        event["exception"] = traceback_without_values(error)
    return event


class DatabaseValuesFilter(logging.Filter):
    """The same for standard-library records (uvicorn logs the 500's exception again)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and involves_database(error):
            record.exc_text = traceback_without_values(error).rstrip("\n")
        return True


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
            _database_values_left_out,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    for name in ("uvicorn.error", "uvicorn", "asyncio"):
        standard = logging.getLogger(name)
        if not any(isinstance(f, DatabaseValuesFilter) for f in standard.filters):
            standard.addFilter(DatabaseValuesFilter())
