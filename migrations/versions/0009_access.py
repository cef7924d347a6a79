"""Access finer than a namespace role: repository grants, repositories shared with other namespaces,
robot accounts and their patterns; credentials that can be disabled (SWR's long-term credentials); the
namespace of each audit entry

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import repohub.store.tables

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "robots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("lookup", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("is_disabled", sa.Boolean(), nullable=False),
        sa.Column("expires_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("creator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_robots_creator_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_robots_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robots")),
        sa.UniqueConstraint("lookup", name=op.f("uq_robots_lookup")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f("uq_robots_namespace_id_name")),
    )
    op.create_table(
        "repository_grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("created_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repository_grants_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_repository_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository_grants")),
        sa.UniqueConstraint(
            "repository_id", "user_id", name=op.f("uq_repository_grants_repository_id_user_id")
        ),
    )
    with op.batch_alter_table("repository_grants", schema=None) as batch_op:
        batch_op.create_index("ix_repository_grants_user_id", ["user_id"], unique=False)

    op.create_table(
        "repository_shares",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("permit", sa.String(length=8), nullable=False),
        sa.Column("expires_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("creator", sa.String(length=64), nullable=False),
        sa.Column("created_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_repository_shares_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["repositories.id"],
            name=op.f("fk_repository_shares_repository_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository_shares")),
        sa.UniqueConstraint(
            "repository_id", "namespace_id", name=op.f("uq_repository_shares_repository_id_namespace_id")
        ),
    )
    with op.batch_alter_table("repository_shares", schema=None) as batch_op:
        batch_op.create_index("ix_repository_shares_namespace_id", ["namespace_id"], unique=False)

    op.create_table(
        "robot_access",
        sa.Column("robot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("pattern", sa.String(length=255), nullable=False),
        sa.Column("like_pattern", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["robot_id"], ["robots.id"], name=op.f("fk_robot_access_robot_id_robots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("robot_id", "action", "pattern", name=op.f("pk_robot_access")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("namespace_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_audit_log_namespace_id", ["namespace_id", "id"], unique=False)

    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disabled_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_namespace_id")
        batch_op.drop_column("namespace_id")

    op.drop_table("robot_access")
    with op.batch_alter_table("repository_shares", schema=None) as batch_op:
        batch_op.drop_index("ix_repository_shares_namespace_id")

    op.drop_table("repository_shares")
    with op.batch_alter_table("repository_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_repository_grants_user_id")

    op.drop_table("repository_grants")
    op.drop_table("robots")
