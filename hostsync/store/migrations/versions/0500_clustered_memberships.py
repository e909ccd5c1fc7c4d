"""memberships clustered on (group_id, member_id) on SQLite (WITHOUT ROWID)

A rowid table kept each membership in four b-trees (the rows, the primary key, the member
index and the covering per-group index); a WITHOUT ROWID table keeps it in two (the rows, in
key order, and the member index), so a membership change writes two fewer pages. The rows are
copied in key order into the new table in the migration's transaction. PostgreSQL keeps its
table and covering index: nothing changes there.

Revision ID: 0500
Revises: 0400
"""

import sqlalchemy as sa
from alembic import op

revision = "0500"
down_revision = "0400"
branch_labels = None
depends_on = None

_COLUMNS = "group_id, member_id, tenant_id, member_type, display"


def _rebuild(*, clustered: bool) -> None:
    op.create_table(
        "memberships_rebuilt",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("member_type", sa.String(length=8), nullable=False),
        sa.Column("display", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("group_id", "member_id", name=op.f("pk_memberships")),
        sqlite_with_rowid=not clustered,
    )
    op.execute(
        f"INSERT INTO memberships_rebuilt ({_COLUMNS}) "  # noqa: S608 - constants
        f"SELECT {_COLUMNS} FROM memberships ORDER BY group_id, member_id"
    )
    op.drop_table("memberships")  # and its indexes
    op.rename_table("memberships_rebuilt", "memberships")
    op.create_index("ix_memberships_member_id", "memberships", ["member_id"], unique=False)
    if not clustered:
        op.create_index(
            "ix_memberships_group_tenant_member",
            "memberships",
            ["group_id", "tenant_id", "member_id"],
            unique=False,
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(clustered=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(clustered=False)
