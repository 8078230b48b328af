"""Answered questions and their 👍/👎 ratings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answered_questions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("faq_id", sa.String(128), nullable=False),
        sa.Column("score", sa.Float()),
        sa.Column("picked", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("rating", sa.String(8)),
        sa.Column("rated_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_answered_questions_answered_at", "answered_questions", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_answered_questions_answered_at", "answered_questions")
    op.drop_table("answered_questions")
