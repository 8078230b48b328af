"""Retention: indexes for the hourly deletes, the job's turn, the web chat's signing key.

- ``inbound_keys.received_at`` and ``conversations.updated_at`` indexed, so the retention job
  finds what is old without reading the whole table. The outbox needs none: its finished rows
  are found by ``ix_outbox_due (status, next_attempt_at)``, and a further index on the table
  every message writes to would cost each message.
- ``job_runs``: when a periodic job last ran, so one process of several takes each turn.
- ``signing_keys``: the secret every process signs the web chat's session cookies with.
- ``outbox.id`` becomes ``bigint`` on PostgreSQL (its sequence too): every message in and out
  takes an id, and int4 ends at 2,147,483,647. PostgreSQL rewrites the table and its indexes
  under an exclusive lock to do it: nothing on a small table, but about 20 s per million rows
  (measured on 2 cores, 1 M rows, 900 MB), and no message can be handled meanwhile. SQLite's
  ``INTEGER PRIMARY KEY`` is 64 bits already.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbound_keys_received_at", "inbound_keys", ["received_at"])
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at"])
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("outbox", "id", type_=sa.BigInteger(), existing_nullable=False)
        op.execute("ALTER SEQUENCE outbox_id_seq AS bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Fails, as it should, once an id past int4 was given out.
        op.execute("ALTER SEQUENCE outbox_id_seq AS integer")
        op.alter_column("outbox", "id", type_=sa.Integer(), existing_nullable=False)
    op.drop_table("signing_keys")
    op.drop_table("job_runs")
    op.drop_index("ix_conversations_updated_at", table_name="conversations")
    op.drop_index("ix_inbound_keys_received_at", table_name="inbound_keys")
