"""memberships clustered on (group_id, member_id) on SQLite (WITHOUT ROWID); member index
covering the tenant and group

A rowid table kept each membership in four b-trees (the rows, the primary key, the member
index and the covering per-group index); a WITHOUT ROWID table keeps it in two (the rows, in
key order, and the member index), so a membership change writes two fewer pages. The rows are
copied in key order into the new table in the migration's transaction. The member index
becomes (member_id, tenant_id, group_id) on both databases, so a member's groups are read
from the index alone. PostgreSQL keeps its table and covering per-group index.

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


_OLD_MEMBER_INDEX = ("ix_memberships_member_id", ["member_id"])
_MEMBER_INDEX = ("ix_memberships_member_tenant_group", ["member_id", "tenant_id", "group_id"])


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
    name, columns = _MEMBER_INDEX if clustered else _OLD_MEMBER_INDEX
    op.create_index(name, "memberships", columns, unique=False)
    if not clustered:
        op.create_index(
            "ix_memberships_group_tenant_member",
            "memberships",
            ["group_id", "tenant_id", "member_id"],
            unique=False,
        )


def _swap_member_index(old: tuple[str, list[str]], new: tuple[str, list[str]]) -> None:
    op.drop_index(old[0], table_name="memberships")
    op.create_index(new[0], "memberships", new[1], unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(clustered=True)
    else:
        _swap_member_index(_OLD_MEMBER_INDEX, _MEMBER_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(clustered=False)
    else:
        _swap_member_index(_MEMBER_INDEX, _OLD_MEMBER_INDEX)
