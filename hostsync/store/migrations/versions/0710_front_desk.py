"""the front desk: sites, their groups, kiosks, visits, deliveries (the outbox), settings

Revision ID: 0710
Revises: 0620
"""

import sqlalchemy as sa
from alembic import op

import hostsync.store.frontdesk.tables  # noqa: F401 - the definitions this revision creates
from hostsync.store.tables import Document, RowId

revision = "0710"
down_revision = "0620"
branch_labels = None
depends_on = None

_LIVE_SITE = sa.text("archived_at IS NULL")
_ON_SITE = sa.text("checked_out_at IS NULL")
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_folded", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("end_of_day", sa.String(5), nullable=True),
        sa.Column("privacy", sa.String(8), server_default="full", nullable=False),
        sa.Column("detail", sa.String(16), nullable=True),
        sa.Column("fallback_recipients", Document, nullable=False),
        sa.Column("match_attribute", sa.Text(), nullable=True),
        sa.Column("match_value", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sites_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_index(
        "uq_sites_tenant_name",
        "sites",
        ["tenant_id", "name_folded"],
        unique=True,
        sqlite_where=_LIVE_SITE,
        postgresql_where=_LIVE_SITE,
    )
    op.create_table(
        "site_groups",
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_site_groups_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", "group_id", name=op.f("pk_site_groups")),
    )
    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_kiosks_site_id_sites")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_kiosks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosks")),
        sa.UniqueConstraint("digest", name=op.f("uq_kiosks_digest")),
    )
    op.create_index(op.f("ix_kiosks_site_id"), "kiosks", ["site_id"], unique=False)
    op.create_table(
        "visits",
        sa.Column("pk", RowId, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("kiosk_id", sa.String(32), nullable=True),
        sa.Column("visitor_name", sa.Text(), nullable=False),
        sa.Column("visitor_name_folded", sa.Text(), nullable=False),
        sa.Column("visitor_company", sa.Text(), nullable=True),
        sa.Column("visitor_email", sa.Text(), nullable=True),
        sa.Column("visitor_email_folded", sa.Text(), nullable=True),
        sa.Column("host_id", sa.String(32), nullable=True),
        sa.Column("host_label", sa.Text(), nullable=True),
        sa.Column("front_desk", sa.Boolean(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(), nullable=False),
        sa.Column("checked_in_by", sa.Text(), nullable=False),
        sa.Column("checked_out_at", sa.DateTime(), nullable=True),
        sa.Column("checked_out_by", sa.Text(), nullable=True),
        sa.Column("anonymised_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_visits")),
        sa.UniqueConstraint("id", name=op.f("uq_visits_id")),
    )
    op.create_index(
        "ix_visits_tenant_site_checked_in", "visits", ["tenant_id", "site_id", "checked_in_at"]
    )
    op.create_index("ix_visits_tenant_checked_in", "visits", ["tenant_id", "checked_in_at"])
    op.create_index(
        "ix_visits_on_site",
        "visits",
        ["tenant_id", "site_id", "visitor_name_folded"],
        sqlite_where=_ON_SITE,
        postgresql_where=_ON_SITE,
    )
    op.create_index("ix_visits_tenant_email", "visits", ["tenant_id", "visitor_email_folded"])
    op.create_index("ix_visits_tenant_host", "visits", ["tenant_id", "host_id", "checked_in_at"])
    op.create_table(
        "deliveries",
        sa.Column("pk", RowId, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("visit_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("id", name=op.f("uq_deliveries_id")),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["due_at"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index("ix_deliveries_tenant_visit", "deliveries", ["tenant_id", "visit_id"])
    op.create_table(
        "frontdesk_settings",
        sa.Column("tenant_id", sa.String(32), nullable=False),
        sa.Column("retention_days", sa.Integer(), server_default="365", nullable=False),
        sa.Column("teams_webhook", sa.Text(), nullable=True),
        sa.Column("slack_webhook", sa.Text(), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_frontdesk_settings_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_frontdesk_settings")),
    )


def downgrade() -> None:
    op.drop_table("frontdesk_settings")
    op.drop_table("deliveries")
    op.drop_table("visits")
    op.drop_table("kiosks")
    op.drop_table("site_groups")
    op.drop_table("sites")
