"""Messenger: chats, members, messages, reactions, update boxes, invites, search indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from palaver.adapters.storage import search_dialect

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _search_indexes(create: bool) -> None:
    """The dialect-specific full-text tables (FTS5 or tsvector), from ``search_dialect``."""
    name = op.get_bind().dialect.name
    statements = search_dialect.create_statements(name) if create else search_dialect.drop_statements(name)
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("about", sa.Text(), nullable=False),
        sa.Column("username", sa.String(32), nullable=True),
        sa.Column("username_canonical", sa.String(32), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("private_key", sa.String(48), nullable=True),
        sa.Column("signatures", sa.Boolean(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("last_msg_id", sa.BigInteger(), nullable=False),
        sa.Column("top_date", sa.Double(), nullable=False),
        sa.Column("pts", sa.BigInteger(), nullable=False),
        sa.Column("pinned_msg_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chats"),
        sa.UniqueConstraint("username_canonical", name="uq_chats_username_canonical"),
        sa.UniqueConstraint("private_key", name="uq_chats_private_key"),
    )
    op.create_table(
        "chat_members",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rights", sa.Integer(), nullable=False),
        sa.Column("promoted_by", sa.BigInteger(), nullable=True),
        sa.Column("until", sa.Double(), nullable=True),
        sa.Column("joined_at", sa.Double(), nullable=False),
        sa.Column("history_from", sa.BigInteger(), nullable=False),
        sa.Column("read_inbox_max", sa.BigInteger(), nullable=False),
        sa.Column("read_outbox_max", sa.BigInteger(), nullable=False),
        sa.Column("pinned_rank", sa.BigInteger(), nullable=False),
        sa.Column("draft_text", sa.Text(), nullable=True),
        sa.Column("draft_entities", sa.Text(), nullable=True),
        sa.Column("draft_reply_to", sa.BigInteger(), nullable=True),
        sa.Column("draft_date", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name="pk_chat_members"),
    )
    op.create_index("ix_chat_members_user_id", "chat_members", ["user_id", "status"])
    op.create_index("ix_chat_members_chat_status", "chat_members", ["chat_id", "status"])
    op.create_table(
        "user_boxes",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pts", sa.BigInteger(), nullable=False),
        sa.Column("floor_pts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_boxes"),
    )
    op.create_table(
        "messages",
        sa.Column("uid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("date", sa.Double(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entities", sa.Text(), nullable=True),
        sa.Column("reply_to", sa.BigInteger(), nullable=True),
        sa.Column("forward", sa.Text(), nullable=True),
        sa.Column("edit_date", sa.Double(), nullable=True),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("signature", sa.String(64), nullable=True),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("reactions", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("uid", name="pk_messages"),
        sa.UniqueConstraint("chat_id", "id", name="uq_messages_chat_id"),
    )
    op.create_table(
        "message_reactions",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("msg_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("emoji", sa.String(16), nullable=False),
        sa.Column("date", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "msg_id", "user_id", name="pk_message_reactions"),
    )
    op.create_table(
        "hidden_messages",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("msg_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "chat_id", "msg_id", name="pk_hidden_messages"),
    )
    for box, owner in (("common_updates", "user_id"), ("channel_updates", "chat_id")):
        extra = [sa.Column("chat_id", sa.BigInteger(), nullable=False)] if box == "common_updates" else []
        op.create_table(
            box,
            sa.Column(owner, sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("pts", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("pts_count", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(24), nullable=False),
            *extra,
            sa.Column("msg_id", sa.BigInteger(), nullable=True),
            sa.Column("data", sa.Text(), nullable=True),
            sa.Column("date", sa.Double(), nullable=False),
            sa.PrimaryKeyConstraint(owner, "pts", name=f"pk_{box}"),
        )
    op.create_table(
        "chat_invites",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expire_at", sa.Double(), nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_chat_invites"),
        sa.UniqueConstraint("code", name="uq_chat_invites_code"),
    )
    op.create_index("ix_chat_invites_chat_id", "chat_invites", ["chat_id"])
    op.create_table(
        "join_requests",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("invite_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name="pk_join_requests"),
    )
    _search_indexes(create=True)


def downgrade() -> None:
    _search_indexes(create=False)
    op.drop_table("join_requests")
    op.drop_index("ix_chat_invites_chat_id", table_name="chat_invites")
    op.drop_table("chat_invites")
    op.drop_table("channel_updates")
    op.drop_table("common_updates")
    op.drop_table("hidden_messages")
    op.drop_table("message_reactions")
    op.drop_table("messages")
    op.drop_table("user_boxes")
    op.drop_index("ix_chat_members_chat_status", table_name="chat_members")
    op.drop_index("ix_chat_members_user_id", table_name="chat_members")
    op.drop_table("chat_members")
    op.drop_table("chats")
