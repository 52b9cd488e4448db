"""Dialect-aware statements that SQLAlchemy spells differently on SQLite and PostgreSQL, and
statements compiled once for the intake path's driver-level execution."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


class InsertIgnoringConflicts(Insert):
    """`INSERT … ON CONFLICT DO NOTHING`, in the syntax PostgreSQL and SQLite (3.24+) share.

    SQLAlchemy's dialect `insert()` constructs are never cached (their ON CONFLICT clause is
    outside the cache key), so every execution compiled the statement anew: measured as a fifth
    of the intake path's CPU. This construct's clause is the same for every instance, so the
    class itself keys the cache safely.
    """

    inherit_cache = True
    _post_values_clause = sa.text("ON CONFLICT DO NOTHING")


def insert_ignoring_conflicts(model: Any) -> InsertIgnoringConflicts:
    """`INSERT … ON CONFLICT DO NOTHING`: on any unique index, which is how leadgate keeps
    one row under concurrent identical writes."""
    return InsertIgnoringConflicts(model.__table__ if hasattr(model, "__table__") else model)


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    """A statement compiled once for one dialect, run on the driver's own connection.

    `arguments` turns named values into the driver's positional arguments through the same
    type processors SQLAlchemy would apply (JSON, UTC datetimes), so rows written this way
    are identical to rows written through a session.
    """

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def of(cls, statement: sa.ClauseElement, dialect: Dialect) -> CompiledStatement:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        names = tuple(compiled.positiontup or ())
        bind_processors: Mapping[str, Any] = compiled._bind_processors
        return cls(compiled.string, names, tuple(bind_processors.get(n) for n in names))

    def arguments(self, values: Mapping[str, Any]) -> Sequence[Any]:
        return [
            value if processor is None else processor(value)
            for value, processor in zip(
                (values[name] for name in self.names), self.processors, strict=True
            )
        ]
