"""Unanswered questions name the chat they were asked in.

The [提交给服务专员] button under a reply names the question kept for it, so that the request
starts from the question as asked; the chat lets the intake refuse a button forged to read
someone else's question. Questions kept before have none and are never carried.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unanswered_questions") as table:
        table.add_column(sa.Column("chat_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unanswered_questions") as table:
        table.drop_column("chat_id")
