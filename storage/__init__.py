"""Persistence: SQLAlchemy 2.0 (async) models, repositories and Alembic migrations.

SQLite (aiosqlite, WAL) is the embedded default; PostgreSQL runs the same code.
"""

from storage.answers import AnsweredQuestions, RatingSummary
from storage.database import Database
from storage.questions import UnansweredQuestions, UnansweredSummary

__all__ = [
    "AnsweredQuestions",
    "Database",
    "RatingSummary",
    "UnansweredQuestions",
    "UnansweredSummary",
]
