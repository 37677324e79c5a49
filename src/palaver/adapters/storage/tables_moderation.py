"""Trust & safety schema (SQLAlchemy Core), on the shared ``metadata``. Migration: ``0003_moderation``.

Images of flagged frames live in the database (``flagged_frames.image``) until the retention job
empties them; ``ban_subjects`` maps each ban to what it applies to (an account, a guest device, an IP
hash) so that one indexed lookup finds the ban that holds for a session.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Double, Index, Integer, LargeBinary, String, Table, Text

from palaver.adapters.storage.tables import metadata

reports = Table(
    "reports",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("reporter_id", BigInteger, nullable=False),
    Column("reported_id", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("pair_id", String(64), nullable=True),
    Column("created_at", Double, nullable=False),
    Column("state", String(16), nullable=False),
    Index("ix_reports_reported_id", "reported_id", "created_at"),
    Index("ix_reports_state", "state", "id"),
)

bans = Table(
    "bans",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("reason_text", Text, nullable=False, default=""),
    Column("level", Integer, nullable=False),
    Column("starts_at", Double, nullable=False),
    Column("ends_at", Double, nullable=True),  # NULL: held for review
    Column("created_by", BigInteger, nullable=True),  # NULL: the system
    Column("lifted_at", Double, nullable=True),
    Column("lifted_by", BigInteger, nullable=True),
    Column("lift_note", Text, nullable=False, default=""),
    Index("ix_bans_user_id", "user_id"),
)

ban_subjects = Table(
    "ban_subjects",
    metadata,
    Column("ban_id", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), primary_key=True),  # account | device | ip
    Column("value", String(128), primary_key=True),  # decimal id, or hex of HMAC-SHA256(salt, ip)
    Index("ix_ban_subjects_kind", "kind", "value"),
)

appeals = Table(
    "appeals",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ban_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("open_ban_id", BigInteger, nullable=True, unique=True),  # = ban_id while open: one open per ban
    Column("created_at", Double, nullable=False),
    Column("decided_at", Double, nullable=True),
    Column("decided_by", BigInteger, nullable=True),
    Column("decision_note", Text, nullable=False, default=""),
    Index("ix_appeals_ban_id", "ban_id"),
    Index("ix_appeals_state", "state", "id"),
)

flagged_frames = Table(
    "flagged_frames",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, nullable=False),
    Column("pair_id", String(64), nullable=True),
    Column("score", Double, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("state", String(16), nullable=False),
    Column("image", LargeBinary, nullable=True),  # NULL once purged
    Column("purged_at", Double, nullable=True),
    Index("ix_flagged_frames_state", "state", "id"),
    Index("ix_flagged_frames_created_at", "created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("actor_id", BigInteger, nullable=True),  # NULL: the system
    Column("action", String(32), nullable=False),
    Column("target_user_id", BigInteger, nullable=True),
    Column("target_id", BigInteger, nullable=True),
    Column("details", Text, nullable=False, default="{}"),  # JSON object
    Column("created_at", Double, nullable=False),
)

roulette_blocks = Table(
    "roulette_blocks",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("other_user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("created_at", Double, nullable=False),
)
