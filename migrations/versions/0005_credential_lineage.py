"""Credentials: how each was issued (origin), the credential it was derived from, its last use

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import repohub.store.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), server_default="cli", nullable=False))
        batch_op.add_column(
            sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_used_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_credentials_parent_id", ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_parent_id_credentials"),
            "credentials",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )
    # Tokens issued before this revision said how in their description; their parents are unknown
    # (docker-login tokens of then expire within a day of being issued anyway).
    op.execute("UPDATE credentials SET origin = 'login' WHERE kind = 'token' AND description = 'login'")
    op.execute(
        "UPDATE credentials SET origin = 'docker-login' WHERE kind = 'token' AND description = 'docker login'"
    )


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_credentials_parent_id_credentials"), type_="foreignkey")
        batch_op.drop_index("ix_credentials_parent_id")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("origin")
