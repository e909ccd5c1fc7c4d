"""groups.member_count: each group's membership count, kept with every membership change

Revision ID: 0400
Revises: 0300
"""

import sqlalchemy as sa
from alembic import op

revision = "0400"
down_revision = "0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("member_count", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE groups SET member_count = "
        "(SELECT COUNT(*) FROM memberships WHERE memberships.group_id = groups.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("member_count")
