"""admin console: admins, admin_sessions, activity

Revision ID: 0100
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Registers the tables on the shared metadata, so autogenerate comparisons (tests) see them
# even in a process that never imported the console.
import hostsync.store.admin_tables  # noqa: F401

revision = "0100"
down_revision = "0001"
branch_labels = None
depends_on = None

_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "admins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_folded", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_admins_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
        sa.UniqueConstraint("email_folded", name=op.f("uq_admins_email_folded")),
    )
    op.create_index(op.f("ix_admins_tenant_id"), "admins", ["tenant_id"], unique=False)
    op.create_table(
        "admin_sessions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("admin_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["admins.id"], name=op.f("fk_admin_sessions_admin_id_admins")
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_admin_sessions")),
    )
    op.create_index(
        op.f("ix_admin_sessions_admin_id"), "admin_sessions", ["admin_id"], unique=False
    )
    op.create_table(
        "activity",
        sa.Column("pk", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("client", sa.String(length=300), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("resource_type", sa.String(length=16), nullable=True),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("resource_name", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("changes", _DOCUMENT, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_activity")),
    )
    op.create_index("ix_activity_tenant_id_at", "activity", ["tenant_id", "at"], unique=False)
    op.create_index(
        "ix_activity_tenant_id_resource_id", "activity", ["tenant_id", "resource_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_activity_tenant_id_resource_id", table_name="activity")
    op.drop_index("ix_activity_tenant_id_at", table_name="activity")
    op.drop_table("activity")
    op.drop_index(op.f("ix_admin_sessions_admin_id"), table_name="admin_sessions")
    op.drop_table("admin_sessions")
    op.drop_index(op.f("ix_admins_tenant_id"), table_name="admins")
    op.drop_table("admins")
