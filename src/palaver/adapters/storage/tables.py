"""The relational schema (SQLAlchemy Core). Alembic migrations in ``migrations/`` create it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("display_name", String(64), nullable=False),
    Column("username", String(32), nullable=True),
    Column("username_canonical", String(32), nullable=True, unique=True),
    Column("bio", Text, nullable=False, default=""),
    Column("languages", String(64), nullable=False, default=""),
    Column("password_hash", String(255), nullable=True),
    Column("created_at", Double, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("last_seen_at", Double, nullable=False),
    Column("user_agent", String(256), nullable=False, default=""),
    Column("revoked_at", Double, nullable=True),
    Column("device_id", BigInteger, nullable=True),  # the guest device signed in with (migration 0003)
    Column("ip_hash", LargeBinary(32), nullable=True),  # HMAC-SHA256(ip_hash_salt, sign-in IP) (0003)
    Index("ix_sessions_user_id", "user_id"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double, nullable=True),
    Index("ix_devices_user_id", "user_id"),
)
