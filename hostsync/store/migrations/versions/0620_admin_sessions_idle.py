"""admin sessions end after an idle period: last_seen_at

Revision ID: 0620
Revises: 0610
"""

import sqlalchemy as sa
from alembic import op

revision = "0620"
down_revision = "0610"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admin_sessions") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_sessions") as batch:
        batch.drop_column("last_seen_at")
