"""extension schemas a tenant declares, and the version a credential carries

Revision ID: 0720
Revises: 0710
"""

import sqlalchemy as sa
from alembic import op

revision = "0720"
down_revision = "0710"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("extensions_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "tenant_extensions",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("urn_key", sa.String(length=128), nullable=False),
        sa.Column("urn", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_extensions_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "urn_key", name=op.f("pk_tenant_extensions")),
    )


def downgrade() -> None:
    op.drop_table("tenant_extensions")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("extensions_version")
