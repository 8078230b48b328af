"""Outbox: ``handed_back``, the status of a reply that went back in the HTTP response.

Until now such a reply was stored as ``sent`` with no attempt, which only the outbox sender's
never having taken it told apart from a delivered one. Existing rows that answer a message
(``inbound_key`` set), ``sent`` and never attempted, and sent the moment they were written,
become ``handed_back``: what a redelivered message is answered with again. (A row the web chat's
page fetched is ``sent`` with no attempt too, but later than it was written.) The column stays a
``VARCHAR(16)``: only its values change.

The update reads the finished rows through ``ix_outbox_due (status, next_attempt_at)``; on a
large outbox it takes as long as reading them (the retention job keeps that small).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE outbox SET status = 'handed_back' "
        "WHERE status = 'sent' AND attempts = 0 AND inbound_key IS NOT NULL "
        "AND sent_at = created_at"
    )


def downgrade() -> None:
    op.execute("UPDATE outbox SET status = 'sent' WHERE status = 'handed_back'")
