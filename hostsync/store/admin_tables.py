"""The admin console's tables: administrators, their sessions, and the provisioning activity.

Defined on :data:`hostsync.store.tables.metadata` so Alembic and ``metadata.create_all`` see
them with the rest of the schema (migration ``0100_admin_console``).
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from hostsync.store.tables import Document, RowId, metadata

admins = Table(
    "admins",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("email", String(320), nullable=False),
    Column("email_folded", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_sign_in_at", DateTime, nullable=True),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("admin_id", String(32), ForeignKey("admins.id"), nullable=False, index=True),
    Column("tenant_id", String(32), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=True),  # NULL: not seen since created_at
)

activity = Table(
    "activity",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(32), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("client", String(300), nullable=True),
    Column("actor", String(320), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", Text, nullable=False),
    Column("operation", String(16), nullable=False),
    Column("resource_type", String(16), nullable=True),
    Column("resource_id", String(64), nullable=True),
    Column("resource_name", Text, nullable=True),
    Column("status", Integer, nullable=False),
    Column("changes", Document, nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_activity_tenant_id_at", "tenant_id", "at"),
    Index("ix_activity_tenant_id_resource_id", "tenant_id", "resource_id"),
)

request_counts = Table(
    "request_counts",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("hour", DateTime, primary_key=True),
    Column("requests", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
)
"""Authenticated SCIM requests and failed ones per tenant and hour (reads included)."""
