"""Single sign-on's tables (migration ``0800``), on :data:`hostsync.store.tables.metadata`.

``saml_providers``: one row a tenant, its identity provider (certificates as a PEM bundle:
public certificates, no secret). ``saml_once``: assertion IDs accepted and AuthnRequest IDs
issued, each until it expires; the primary key makes a second insert of the same ID fail,
which is how an ID is accepted once across every worker process.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, String, Table, Text, false

from hostsync.store.tables import metadata

saml_providers = Table(
    "saml_providers",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("idp_entity_id", String(1024), nullable=False),
    Column("login_url", Text, nullable=False),
    Column("certificates", Text, nullable=False),
    Column("allow_sha1", Boolean, nullable=False, server_default=false()),
    Column("metadata_url", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("modified_at", DateTime, nullable=False),
)

saml_once = Table(
    "saml_once",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # assertion | request
    Column("value", String(256), primary_key=True),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_saml_once_expiry", "tenant_id", "expires_at"),
)
