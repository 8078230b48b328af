"""WeCom cards' response codes: what lets the bot update a member's copy of a request's card.

WeCom updates a template card already sent (``update_template_card``) only with a
``response_code``: from the answer that sent the card, or from the member's press of one of its
buttons; each serves once, within 72 hours. They are kept here until used or stale.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wecom_card_codes",
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("userid", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(
        "ix_wecom_card_codes_member",
        "wecom_card_codes",
        ["userid", "request_id", "issued_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_wecom_card_codes_member", table_name="wecom_card_codes")
    op.drop_table("wecom_card_codes")
