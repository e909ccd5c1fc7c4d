"""resource_counts (unfiltered totalResults without COUNT), covering index on memberships

Revision ID: 0200
Revises: 0100
"""

import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_counts",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.String(length=8), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "resource", name=op.f("pk_resource_counts")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memberships_group_tenant_member",
            ["group_id", "tenant_id", "member_id"],
            unique=False,
        )
    for table, resource in (("users", "User"), ("groups", "Group")):
        op.execute(
            f"INSERT INTO resource_counts (tenant_id, resource, live) "  # noqa: S608 - constants
            f"SELECT tenant_id, '{resource}', COUNT(*) FROM {table} "
            f"WHERE deleted_at IS NULL GROUP BY tenant_id"
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_group_tenant_member")
    op.drop_table("resource_counts")
