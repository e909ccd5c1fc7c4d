"""admin sessions end after an idle period: last_seen_at

Revision ID: 0620
Revises: 0610
"""

revision = "0620"
down_revision = "0610"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
