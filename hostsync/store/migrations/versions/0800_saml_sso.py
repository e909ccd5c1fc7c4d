"""single sign-on: each tenant's SAML identity provider, and one-time identifiers

Revision ID: 0800
Revises: 0730
"""

import sqlalchemy as sa
from alembic import op

import hostsync.store.sso.tables  # noqa: F401 - the definitions this revision creates

revision = "0800"
down_revision = "0730"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saml_providers",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("idp_entity_id", sa.String(1024), nullable=False),
        sa.Column("login_url", sa.Text(), nullable=False),
        sa.Column("certificates", sa.Text(), nullable=False),
        sa.Column("allow_sha1", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("metadata_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    op.create_table(
        "saml_once",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "value"),
    )
    op.create_index("ix_saml_once_expiry", "saml_once", ["tenant_id", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_saml_once_expiry", table_name="saml_once")
    op.drop_table("saml_once")
    op.drop_table("saml_providers")
