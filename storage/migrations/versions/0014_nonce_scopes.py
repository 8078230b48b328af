"""Nonce scopes: each channel that signs its callbacks keeps its own ``(timestamp, nonce)`` pairs.

WeCom (企业微信) signs its callbacks as WeChat does, and both are remembered in one table. A
pair is a replay only on the channel that signed it: with a ``scope`` in the key, a WeCom
callback that happens to share a WeChat request's timestamp and nonce is not refused for it.
The rows there are WeChat's (``scope`` ``wechat``); the table holds a minute of them at most.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07 17:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild(["scope", "timestamp", "nonce"], "'wechat'")


def downgrade() -> None:
    _rebuild(["timestamp", "nonce"], None)


def _rebuild(key: list[str], scope: str | None) -> None:
    """The table anew with ``key``, its rows copied (``scope``: the SQL value of the new column).

    Built beside the old one and renamed, rather than altered: SQLite cannot change a key in
    place. The table holds a minute of rows, so the copy takes no time.
    """
    columns: list[sa.Column[Any]] = [
        sa.Column("timestamp", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
    ]
    if scope is not None:
        scoped = sa.Column("scope", sa.String(length=16), nullable=False, server_default="wechat")
        columns.insert(0, scoped)
    op.create_table(
        "wechat_nonces_new", *columns, sa.PrimaryKeyConstraint(*key, name="wechat_nonces_new_pkey")
    )
    if scope is None:  # going back: only WeChat's pairs fit the old key
        copy = (
            "INSERT INTO wechat_nonces_new (timestamp, nonce, digest) "
            "SELECT timestamp, nonce, digest FROM wechat_nonces WHERE scope = 'wechat'"
        )
    else:
        copy = (
            "INSERT INTO wechat_nonces_new (scope, timestamp, nonce, digest) "
            f"SELECT {scope}, timestamp, nonce, digest FROM wechat_nonces"
        )
    op.execute(sa.text(copy))
    op.drop_table("wechat_nonces")
    op.rename_table("wechat_nonces_new", "wechat_nonces")
    if op.get_bind().dialect.name == "postgresql":  # the key keeps the name it was made with
        op.execute(
            sa.text(
                "ALTER TABLE wechat_nonces RENAME CONSTRAINT wechat_nonces_new_pkey "
                "TO wechat_nonces_pkey"
            )
        )
