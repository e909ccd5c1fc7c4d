"""a counter of API-key changes that every process checks to forget revoked keys at once

Also an index on ``api_keys.prefix``: a refused token is traced to its tenant by its prefix.

Revision ID: 0610
Revises: 0600
"""

import sqlalchemy as sa
from alembic import op

revision = "0610"
down_revision = "0600"
branch_labels = None
depends_on = None


def upgrade() -> None:
    key_changes = op.create_table(
        "key_changes",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_changes")),
    )
    op.bulk_insert(key_changes, [{"id": 1, "generation": 0}])
    op.create_index(op.f("ix_api_keys_prefix"), "api_keys", ["prefix"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_keys_prefix"), table_name="api_keys")
    op.drop_table("key_changes")
