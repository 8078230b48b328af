"""Made files: a file the bot makes for a message (a quarterly report) is a job of its own.

Until now an outbox message named the report it carried and the sender made it under its
delivery lease, again on every retry. Now the file is made once by its own worker and kept
here; the message waits (``waiting``) until its files are made. A message queued the old way
(a ``report:`` attachment, still ``pending``) gets its job here, so none is lost in an upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-21 10:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "made_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "outbox_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("spec", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_made_files_outbox_id", "made_files", ["outbox_id"])
    op.create_index("ix_made_files_due", "made_files", ["status", "next_attempt_at"])
    _queue_old_reports()


def _queue_old_reports() -> None:
    """Give each pending message that names a report to make its job, and let it wait."""
    connection = op.get_bind()
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer()),
        sa.column("payload", sa.JSON()),
        sa.column("status", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    )
    made_files = sa.table(
        "made_files",
        sa.column("outbox_id", sa.Integer()),
        sa.column("position", sa.Integer()),
        sa.column("spec", sa.String()),
        sa.column("status", sa.String()),
        sa.column("attempts", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    )
    pending = connection.execute(
        sa.select(outbox.c.id, outbox.c.payload, outbox.c.created_at, outbox.c.next_attempt_at)
        .where(outbox.c.status == "pending")
        .where(sa.cast(outbox.c.payload, sa.Text).like('%"made"%'))
    )
    for row_id, payload, created_at, due in pending:
        if isinstance(payload, str):
            payload = json.loads(payload)
        specs = [
            (position, attachment["made"])
            for position, attachment in enumerate(payload.get("attachments") or ())
            if attachment.get("made")
        ]
        if not specs:
            continue
        for position, spec in specs:
            connection.execute(
                made_files.insert().values(
                    outbox_id=row_id,
                    position=position,
                    spec=spec,
                    status="queued",
                    attempts=0,
                    created_at=created_at,
                    next_attempt_at=due,
                )
            )
        connection.execute(
            outbox.update().where(outbox.c.id == row_id).values(status="waiting")
        )


def downgrade() -> None:
    # A waiting message names its report still: the old sender makes it when it sends.
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'waiting'")
    op.drop_index("ix_made_files_due", table_name="made_files")
    op.drop_index("ix_made_files_outbox_id", table_name="made_files")
    op.drop_table("made_files")
