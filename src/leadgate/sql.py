"""Dialect-aware statements that SQLAlchemy spells differently on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_ignoring_conflicts(session: AsyncSession, model: Any) -> Any:
    """`INSERT … ON CONFLICT DO NOTHING`: on any unique index, which is how leadgate keeps
    one row under concurrent identical writes."""
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing()
