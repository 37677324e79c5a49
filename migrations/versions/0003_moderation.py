"""Trust & safety: reports, bans and their subjects, appeals, flagged frames, the audit log,
persistent Roulette blocks; sessions record the guest device and a salted hash of the IP.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("device_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("ip_hash", sa.LargeBinary(32), nullable=True))
    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=False),
        sa.Column("reported_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("pair_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
    )
    op.create_index("ix_reports_reported_id", "reports", ["reported_id", "created_at"])
    op.create_index("ix_reports_state", "reports", ["state", "id"])
    op.create_table(
        "bans",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.Double(), nullable=False),
        sa.Column("ends_at", sa.Double(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("lifted_at", sa.Double(), nullable=True),
        sa.Column("lifted_by", sa.BigInteger(), nullable=True),
        sa.Column("lift_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bans"),
    )
    op.create_index("ix_bans_user_id", "bans", ["user_id"])
    op.create_table(
        "ban_subjects",
        sa.Column("ban_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("ban_id", "kind", "value", name="pk_ban_subjects"),
    )
    op.create_index("ix_ban_subjects_kind", "ban_subjects", ["kind", "value"])
    op.create_table(
        "appeals",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ban_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("open_ban_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_appeals"),
        sa.UniqueConstraint("open_ban_id", name="uq_appeals_open_ban_id"),
    )
    op.create_index("ix_appeals_ban_id", "appeals", ["ban_id"])
    op.create_index("ix_appeals_state", "appeals", ["state", "id"])
    op.create_table(
        "flagged_frames",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("pair_id", sa.String(64), nullable=True),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("purged_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_flagged_frames"),
    )
    op.create_index("ix_flagged_frames_state", "flagged_frames", ["state", "id"])
    op.create_index("ix_flagged_frames_created_at", "flagged_frames", ["created_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_user_id", sa.BigInteger(), nullable=True),
        sa.Column("target_id", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_table(
        "roulette_blocks",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("other_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "other_user_id", name="pk_roulette_blocks"),
    )


def downgrade() -> None:
    op.drop_table("roulette_blocks")
    op.drop_table("audit_log")
    op.drop_index("ix_flagged_frames_created_at", table_name="flagged_frames")
    op.drop_index("ix_flagged_frames_state", table_name="flagged_frames")
    op.drop_table("flagged_frames")
    op.drop_index("ix_appeals_state", table_name="appeals")
    op.drop_index("ix_appeals_ban_id", table_name="appeals")
    op.drop_table("appeals")
    op.drop_index("ix_ban_subjects_kind", table_name="ban_subjects")
    op.drop_table("ban_subjects")
    op.drop_index("ix_bans_user_id", table_name="bans")
    op.drop_table("bans")
    op.drop_index("ix_reports_state", table_name="reports")
    op.drop_index("ix_reports_reported_id", table_name="reports")
    op.drop_table("reports")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("ip_hash")
        batch.drop_column("device_id")
