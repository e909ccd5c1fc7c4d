"""The front desk's tables: sites, their group mapping, kiosks, visits, deliveries, settings.

Defined on :data:`hostsync.store.tables.metadata` (migration ``0710``). Visits and deliveries
are never removed: retention blanks a visit's personal fields (``anonymised_at``), and a
delivery keeps its outcome for the visit's page.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from hostsync.store.tables import Document, RowId, metadata

_LIVE_SITE = text("archived_at IS NULL")
_ON_SITE = text("checked_out_at IS NULL")
_PENDING = text("status = 'pending'")
_NOT_ANONYMISED = text("anonymised_at IS NULL")

sites = Table(
    "sites",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_folded", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    # Local "HH:MM" at which visitors still on site are checked out; NULL: never.
    Column("end_of_day", String(5), nullable=True),
    # What a kiosk shows of a host (frontdesk/privacy.py): full | initial | exact.
    Column("privacy", String(8), nullable=False, server_default="full"),
    # Shown beside a host's name in "full" mode: title | department | NULL.
    Column("detail", String(16), nullable=True),
    Column("fallback_recipients", Document, nullable=False),
    # Hosts chosen by an attribute Entra sends instead of by group: the SCIM path and value.
    Column("match_attribute", Text, nullable=True),
    Column("match_value", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("modified_at", DateTime, nullable=False),
    Column("archived_at", DateTime, nullable=True),
    Index(
        "uq_sites_tenant_name",
        "tenant_id",
        "name_folded",
        unique=True,
        sqlite_where=_LIVE_SITE,
        postgresql_where=_LIVE_SITE,
    ),
)

# The SCIM groups whose members a site offers; a site with none offers every active host.
site_groups = Table(
    "site_groups",
    metadata,
    Column("site_id", String(32), ForeignKey("sites.id"), primary_key=True),
    Column("group_id", String(32), primary_key=True),
    Column("tenant_id", String(32), nullable=False),
)

kiosks = Table(
    "kiosks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("site_id", String(32), ForeignKey("sites.id"), nullable=False, index=True),
    Column("label", String(200), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
)

visits = Table(
    "visits",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("tenant_id", String(32), nullable=False),
    Column("site_id", String(32), nullable=False),
    Column("kiosk_id", String(32), nullable=True),  # NULL: checked in by the front desk
    Column("visitor_name", Text, nullable=False),
    Column("visitor_name_folded", Text, nullable=False),
    Column("visitor_company", Text, nullable=True),
    Column("visitor_email", Text, nullable=True),
    Column("visitor_email_folded", Text, nullable=True),
    # The host picked (a user id), and the label the kiosk showed, kept as it was then.
    Column("host_id", String(32), nullable=True),
    Column("host_label", Text, nullable=True),
    Column("front_desk", Boolean, nullable=False),  # "Front desk / I don't know"
    Column("checked_in_at", DateTime, nullable=False),
    Column("checked_in_by", Text, nullable=False),
    Column("checked_out_at", DateTime, nullable=True),
    Column("checked_out_by", Text, nullable=True),
    Column("anonymised_at", DateTime, nullable=True),
    Index("ix_visits_tenant_site_checked_in", "tenant_id", "site_id", "checked_in_at"),
    Index("ix_visits_tenant_checked_in", "tenant_id", "checked_in_at"),
    Index(
        "ix_visits_on_site",
        "tenant_id",
        "site_id",
        "visitor_name_folded",
        sqlite_where=_ON_SITE,
        postgresql_where=_ON_SITE,
    ),
    Index("ix_visits_tenant_email", "tenant_id", "visitor_email_folded"),
    Index("ix_visits_tenant_host", "tenant_id", "host_id", "checked_in_at"),
    # Migration 0730: what retention may still anonymise (store/frontdesk/retention.py).
    Index(
        "ix_visits_to_anonymise",
        "tenant_id",
        "checked_in_at",
        sqlite_where=_NOT_ANONYMISED,
        postgresql_where=_NOT_ANONYMISED,
    ),
)

# The outbox: each notification a check-in owes, committed with the visit, sent by a worker.
deliveries = Table(
    "deliveries",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("tenant_id", String(32), nullable=False),
    Column("visit_id", String(32), nullable=False),
    Column("channel", String(16), nullable=False),  # email | teams | slack | webhook
    Column("recipient", Text, nullable=False),  # an address (email), else ""
    Column("purpose", String(16), nullable=False),  # host | fallback
    Column("status", String(16), nullable=False),  # pending | sent | failed | skipped
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("due_at", DateTime, nullable=False),
    Column("leased_until", DateTime, nullable=True),
    Column("detail", Text, nullable=True),  # why it failed, was skipped or rerouted
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    Index("ix_deliveries_due", "due_at", sqlite_where=_PENDING, postgresql_where=_PENDING),
    Index("ix_deliveries_tenant_visit", "tenant_id", "visit_id"),
)

frontdesk_settings = Table(
    "frontdesk_settings",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("retention_days", Integer, nullable=False, server_default="365"),
    # Sealed (frontdesk/sealing.py), never in clear: the URLs carry their own credentials.
    Column("teams_webhook", Text, nullable=True),
    Column("slack_webhook", Text, nullable=True),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret", Text, nullable=True),
    Column("modified_at", DateTime, nullable=False),
)
