"""Request events indexed by request and time: each request's log read in order, no sort.

The quarterly report reads every log of a quarter in ``(request_id, at, id)`` order; with the
index PostgreSQL walks it instead of sorting millions of events. It replaces the index on
``request_id`` alone, which it serves as well (the foreign key, one request's log).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_request_events_request_id_at", ["request_id", "at", "id"], unique=False
        )
        batch_op.drop_index("ix_request_events_request_id")


def downgrade() -> None:
    with op.batch_alter_table("request_events", schema=None) as batch_op:
        batch_op.create_index("ix_request_events_request_id", ["request_id"], unique=False)
        batch_op.drop_index("ix_request_events_request_id_at")
