"""Idempotent sends: the sender's ``random_id`` on messages, unique per sender.

A partial unique index (rows with a ``random_id`` only) on both SQLite and PostgreSQL: messages
sent without one cost nothing in it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HAS_RANDOM_ID = sa.text("random_id IS NOT NULL")


def upgrade() -> None:
    op.add_column("messages", sa.Column("random_id", sa.BigInteger(), nullable=True))
    op.create_index(
        "uq_messages_sender_random",
        "messages",
        ["sender_id", "random_id"],
        unique=True,
        sqlite_where=_HAS_RANDOM_ID,
        postgresql_where=_HAS_RANDOM_ID,
    )


def downgrade() -> None:
    op.drop_index("uq_messages_sender_random", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("random_id")
