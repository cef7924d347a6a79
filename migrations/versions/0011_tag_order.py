"""Tags of a repository in creation order, for list pages' tag names

Revision ID: 0011
Revises: 0010

On PostgreSQL the index is built CONCURRENTLY, outside the migration's transaction: a plain CREATE
INDEX would hold writes to ``tags`` (pushes, pull counters) for the build, about 40 s at 10M tags.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_tags_repository_id_created_at_id"
_COLUMNS = ["repository_id", "created_at", "id"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(_NAME, "tags", _COLUMNS, postgresql_concurrently=True)
        return
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index(_NAME, _COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index(_NAME)
