"""``INSERT … ON CONFLICT`` for the two databases we run on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

__all__ = ["insert_for"]


def insert_for(session: AsyncSession, table: type[DeclarativeBase]) -> Any:
    """An ``INSERT`` for ``table`` that knows ``on_conflict_do_*`` on this session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
