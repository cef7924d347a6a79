"""Lifecycle II: immutable-tag rules; what a retention run did with each tag it chose (deleted, or kept
for an immutable-tag rule)

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import repohub.store.tables

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Every change to immutable_rules (cascades and TRUNCATE included) tells the listening replicas to
# forget the rules they remember (store/rule_listener.py). PostgreSQL only: SQLite has no listeners.
_NOTIFY_FUNCTION = """
CREATE FUNCTION repohub_immutable_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('repohub_immutable_rules', '');
    RETURN NULL;
END
$$
"""
_NOTIFY_TRIGGER = (
    "CREATE TRIGGER immutable_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
    " ON immutable_rules FOR EACH STATEMENT EXECUTE FUNCTION repohub_immutable_rules_changed()"
)


def upgrade() -> None:
    op.create_table(
        "immutable_rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("tag_decoration", sa.String(length=16), nullable=False),
        sa.Column("tag_pattern", sa.String(length=256), nullable=False),
        sa.Column("repo_decoration", sa.String(length=16), nullable=False),
        sa.Column("repo_pattern", sa.String(length=256), nullable=False),
        sa.Column("created_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", repohub.store.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_immutable_rules_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immutable_rules")),
        sa.UniqueConstraint(
            "namespace_id",
            "tag_decoration",
            "tag_pattern",
            "repo_decoration",
            "repo_pattern",
            name="uq_immutable_rules_selectors",
        ),
    )
    with op.batch_alter_table("retention_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outcome", sa.String(length=16), server_default="deleted", nullable=False)
        )
        batch_op.add_column(sa.Column("immutable_rule_id", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NOTIFY_FUNCTION)
        op.execute(_NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS immutable_rules_changed ON immutable_rules")
        op.execute("DROP FUNCTION IF EXISTS repohub_immutable_rules_changed()")
    with op.batch_alter_table("retention_log", schema=None) as batch_op:
        batch_op.drop_column("immutable_rule_id")
        batch_op.drop_column("outcome")

    op.drop_table("immutable_rules")
