"""Lifecycle I: retention policies and their log, the schedules replicas share, per-tag pull facts

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import repohub.store.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_due_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("lease_until", repohub.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedules")),
    )
    op.create_table(
        "retention_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("retention_id", sa.BigInteger(), nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("rule_type", sa.String(length=16), nullable=False),
        sa.Column("created_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_retention_log_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_log")),
    )
    with op.batch_alter_table("retention_log", schema=None) as batch_op:
        batch_op.create_index("ix_retention_log_repository_id_id", ["repository_id", "id"], unique=False)

    op.create_table(
        "retentions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("created_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_retentions_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retentions")),
        sa.UniqueConstraint("repository_id", name=op.f("uq_retentions_repository_id")),
    )
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pull_count", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("pulled_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_column("pulled_at")
        batch_op.drop_column("pull_count")

    op.drop_table("retentions")
    with op.batch_alter_table("retention_log", schema=None) as batch_op:
        batch_op.drop_index("ix_retention_log_repository_id_id")

    op.drop_table("retention_log")
    op.drop_table("schedules")
