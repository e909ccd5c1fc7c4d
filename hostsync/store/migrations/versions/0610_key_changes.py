"""a counter of API-key changes that every process checks to forget revoked keys at once

Revision ID: 0610
Revises: 0600
"""

revision = "0610"
down_revision = "0600"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
