"""Transcript lines: what a web chat visitor wrote, so a reload shows the conversation again.

The bot's side is already kept in the outbox; this is the visitor's side.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
# 0011 and 0013 were planned for other work and not needed: the chain goes 0010, 0012, 0014.
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcript_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("choice", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_transcript_lines_chat", "transcript_lines", ["channel", "chat_id", "at"])
    op.create_index("ix_transcript_lines_at", "transcript_lines", ["at"])


def downgrade() -> None:
    op.drop_index("ix_transcript_lines_at", table_name="transcript_lines")
    op.drop_index("ix_transcript_lines_chat", table_name="transcript_lines")
    op.drop_table("transcript_lines")
