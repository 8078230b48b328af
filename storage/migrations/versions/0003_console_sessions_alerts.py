"""Console sessions, admin alerts, and an index of provisional due dates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 23:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("person", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_table(
        "alerts",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject"),
    )
    op.create_index("ix_requests_provisional_status", "requests", ["provisional", "status"])


def downgrade() -> None:
    op.drop_index("ix_requests_provisional_status", table_name="requests")
    op.drop_table("alerts")
    op.drop_table("console_sessions")
