"""visits not yet anonymised, by tenant and check-in time (the retention chore's index)

Revision ID: 0730
Revises: 0720

A partial index: anonymised visits leave it, so the chore's probe of a tenant reads only the
visits it may still have to anonymise, however many years of anonymised visits the tenant
keeps (store/frontdesk/retention.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0730"
down_revision = "0720"
branch_labels = None
depends_on = None

_NOT_ANONYMISED = sa.text("anonymised_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_visits_to_anonymise",
        "visits",
        ["tenant_id", "checked_in_at"],
        sqlite_where=_NOT_ANONYMISED,
        postgresql_where=_NOT_ANONYMISED,
    )


def downgrade() -> None:
    op.drop_index("ix_visits_to_anonymise", table_name="visits")
