"""Messenger schema (SQLAlchemy Core), on the shared ``metadata``. Migrations: ``0002_messenger``,
``0004_send_idempotency``.

Search indexes (an FTS5 table on SQLite, a tsvector table on PostgreSQL) are not here: they differ
by dialect and live in ``search_dialect.py``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Double, Index, Integer, String, Table, Text, UniqueConstraint, text

from palaver.adapters.storage.tables import metadata

chats = Table(
    "chats",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("title", String(128), nullable=False, default=""),
    Column("about", Text, nullable=False, default=""),
    Column("username", String(32), nullable=True),
    Column("username_canonical", String(32), nullable=True, unique=True),
    Column("owner_id", BigInteger, nullable=True),
    Column("private_key", String(48), nullable=True, unique=True),
    Column("signatures", Boolean, nullable=False, default=False),
    Column("member_count", Integer, nullable=False, default=0),
    Column("last_msg_id", BigInteger, nullable=False, default=0),  # message id counter
    Column("top_date", Double, nullable=False),  # last activity, for the dialog order
    Column("pts", BigInteger, nullable=False, default=0),  # the channel box counter
    Column("pinned_msg_id", BigInteger, nullable=False, default=0),
    Column("created_at", Double, nullable=False),
)

chat_members = Table(
    "chat_members",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("rights", Integer, nullable=False, default=0),
    Column("promoted_by", BigInteger, nullable=True),
    Column("until", Double, nullable=True),
    Column("joined_at", Double, nullable=False),
    Column("history_from", BigInteger, nullable=False, default=0),
    Column("read_inbox_max", BigInteger, nullable=False, default=0),
    Column("read_outbox_max", BigInteger, nullable=False, default=0),
    Column("pinned_rank", BigInteger, nullable=False, default=0),
    Column("draft_text", Text, nullable=True),
    Column("draft_entities", Text, nullable=True),
    Column("draft_reply_to", BigInteger, nullable=True),
    Column("draft_date", Double, nullable=True),
    Index("ix_chat_members_user_id", "user_id", "status"),
    Index("ix_chat_members_chat_status", "chat_id", "status"),
)

user_boxes = Table(
    "user_boxes",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("pts", BigInteger, nullable=False, default=0),
    Column("floor_pts", BigInteger, nullable=False, default=0),  # updates up to here were pruned
)

messages = Table(
    "messages",
    metadata,
    Column("uid", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("id", BigInteger, nullable=False),
    Column("sender_id", BigInteger, nullable=True),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("date", Double, nullable=False),
    Column("text", Text, nullable=False),
    Column("entities", Text, nullable=True),  # JSON list
    Column("reply_to", BigInteger, nullable=True),
    Column("forward", Text, nullable=True),  # JSON object
    Column("edit_date", Double, nullable=True),
    Column("silent", Boolean, nullable=False, default=False),
    Column("signature", String(64), nullable=True),
    Column("views", BigInteger, nullable=False, default=0),
    Column("reactions", Text, nullable=True),  # JSON {emoji: count}
    Column("random_id", BigInteger, nullable=True),  # the sender's idempotency key (0004_send_idempotency)
    UniqueConstraint("chat_id", "id", name="uq_messages_chat_id"),
    Index(
        "uq_messages_sender_random",
        "sender_id",
        "random_id",
        unique=True,
        sqlite_where=text("random_id IS NOT NULL"),
        postgresql_where=text("random_id IS NOT NULL"),
    ),
)

message_reactions = Table(
    "message_reactions",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("msg_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("emoji", String(16), nullable=False),
    Column("date", Double, nullable=False),
)

hidden_messages = Table(
    "hidden_messages",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("msg_id", BigInteger, primary_key=True, autoincrement=False),
)

common_updates = Table(
    "common_updates",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("pts", BigInteger, primary_key=True, autoincrement=False),
    Column("pts_count", Integer, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("msg_id", BigInteger, nullable=True),
    Column("data", Text, nullable=True),  # JSON payload (message updates: filled from messages)
    Column("date", Double, nullable=False),
)

channel_updates = Table(
    "channel_updates",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("pts", BigInteger, primary_key=True, autoincrement=False),
    Column("pts_count", Integer, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("msg_id", BigInteger, nullable=True),
    Column("data", Text, nullable=True),
    Column("date", Double, nullable=False),
)

chat_invites = Table(
    "chat_invites",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("code", String(64), nullable=False, unique=True),
    Column("creator_id", BigInteger, nullable=False),
    Column("title", String(32), nullable=False, default=""),
    Column("created_at", Double, nullable=False),
    Column("expire_at", Double, nullable=True),
    Column("usage_limit", Integer, nullable=True),
    Column("usage_count", Integer, nullable=False, default=0),
    Column("requires_approval", Boolean, nullable=False, default=False),
    Column("revoked_at", Double, nullable=True),
    Index("ix_chat_invites_chat_id", "chat_id"),
)

join_requests = Table(
    "join_requests",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("invite_id", BigInteger, nullable=False),
    Column("date", Double, nullable=False),
)

MESSENGER_TABLES = (
    chats,
    chat_members,
    user_boxes,
    messages,
    message_reactions,
    hidden_messages,
    common_updates,
    channel_updates,
    chat_invites,
    join_requests,
)
