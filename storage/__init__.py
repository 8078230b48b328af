"""Persistence: SQLAlchemy 2.0 (async) models, repository functions and Alembic migrations.

One convention throughout: a repository function takes the caller's ``AsyncSession`` and works
inside the caller's transaction (:meth:`Database.transaction` for writes,
:meth:`Database.sessions` for reads). SQLite (aiosqlite, WAL) is the embedded default;
PostgreSQL runs the same code.
"""

from storage.answers import RatingSummary
from storage.database import Database
from storage.questions import UnansweredSummary

__all__ = ["Database", "RatingSummary", "UnansweredSummary"]
