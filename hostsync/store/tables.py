"""The relational schema: tenants, their extensions, API keys, users, groups and memberships.

Each resource row keeps the canonical JSON document plus extracted columns for what is looked
up, filtered, sorted or unique most often (docs/architecture.md, "Storage"). Rows are never
removed by a SCIM client: DELETE sets ``deleted_at`` (soft delete), and partial unique indexes
over the rows that are not deleted make ``userName`` (case-folded) and group ``displayName``
(case-folded) unique per tenant while freeing the name after a delete.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Document = JSON().with_variant(JSONB(), "postgresql")
# SQLite's INTEGER PRIMARY KEY is the rowid; BIGINT would make it an ordinary column.
RowId = BigInteger().with_variant(Integer(), "sqlite")
_NOT_DELETED = text("deleted_at IS NULL")

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
    # Bumped by every change to the tenant's declared extensions (store/extensions.py); a
    # credential carries it, so a process rebuilds the tenant's schemas when it moves.
    Column("extensions_version", Integer, nullable=False, server_default="0"),
)

# The extension schemas a tenant declares (hostsync.scim.extensions), one row each. ``urn_key``
# is the URN lowercased: URNs compare case-insensitively, so one tenant declares a name once.
# ``attributes`` lists {"name", "type", "caseExact", "description"} in declaration order.
tenant_extensions = Table(
    "tenant_extensions",
    metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("urn_key", String(128), primary_key=True),
    Column("urn", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("modified_at", DateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("label", String(200), nullable=False),
    # Indexed: a refused token is traced to its tenant by the prefix (web/auth_failures.py).
    Column("prefix", String(32), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("user_name", Text, nullable=False),
    Column("user_name_folded", Text, nullable=False),
    Column("external_id", Text, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("document", Document, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("modified_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted_at", DateTime, nullable=True),
    Index(
        "uq_users_tenant_user_name",
        "tenant_id",
        "user_name_folded",
        unique=True,
        sqlite_where=_NOT_DELETED,
        postgresql_where=_NOT_DELETED,
    ),
    Index(
        "ix_users_tenant_external_id",
        "tenant_id",
        "external_id",
        sqlite_where=_NOT_DELETED,
        postgresql_where=_NOT_DELETED,
    ),
    Index(
        "ix_users_tenant_pk",
        "tenant_id",
        "pk",
        sqlite_where=_NOT_DELETED,
        postgresql_where=_NOT_DELETED,
    ),
)

groups = Table(
    "groups",
    metadata,
    Column("pk", RowId, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("display_name", Text, nullable=False),
    Column("display_name_folded", Text, nullable=False),
    Column("external_id", Text, nullable=True),
    Column("document", Document, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("modified_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted_at", DateTime, nullable=True),
    # Kept by every membership change in the same transaction (store/directory.py), so
    # "more than N members?" and the console's member counts need no COUNT.
    Column("member_count", BigInteger, nullable=False, server_default="0"),
    Index(
        "uq_groups_tenant_display_name",
        "tenant_id",
        "display_name_folded",
        unique=True,
        sqlite_where=_NOT_DELETED,
        postgresql_where=_NOT_DELETED,
    ),
    Index(
        "ix_groups_tenant_external_id",
        "tenant_id",
        "external_id",
        sqlite_where=_NOT_DELETED,
        postgresql_where=_NOT_DELETED,
    ),
    Index(
        "ix_groups_tenant_pk",
        "tenant_id",
        "pk",
        sqlite_where=_NOT_DELETED,
        postgresql_where=_NOT_DELETED,
    ),
)

# On SQLite the table is clustered on its key (WITHOUT ROWID): the rows sit in (group, member)
# order, so the per-group queries (list, remove, the tenant check) read one b-tree, and a
# membership change writes two b-trees (the rows and the member index) where a rowid table
# wrote four (rows, key, member, and a covering index): WAL frames per member PATCH 10.2 ->
# 7.7 (bench/README.md). PostgreSQL has no clustered tables; there the covering index lets
# the per-group queries read the index only.
memberships = Table(
    "memberships",
    metadata,
    Column("group_id", String(32), primary_key=True),
    Column("member_id", String(32), primary_key=True),
    Column("tenant_id", String(32), nullable=False),
    Column("member_type", String(8), nullable=False),
    Column("display", Text, nullable=True),
    # A member's groups (and its removal everywhere) with the tenant check, from the index
    # alone: on SQLite a WITHOUT ROWID table's row would otherwise be looked up by its
    # (group, member) text key for each membership (+2.8 % instructions per page of users).
    Index("ix_memberships_member_tenant_group", "member_id", "tenant_id", "group_id"),
    Index("ix_memberships_group_tenant_member", "group_id", "tenant_id", "member_id").ddl_if(
        dialect="postgresql"
    ),
    sqlite_with_rowid=False,
)

POSTGRESQL_ONLY_INDEXES = frozenset({"ix_memberships_group_tenant_member"})
"""Indexes created on PostgreSQL only (``ddl_if``), which Alembic's comparison must skip
on SQLite (store/migrate.py, :func:`~hostsync.store.migrate.include_object_for`)."""

# Live (not deleted) users and groups per tenant, kept by SqlDirectory in the same transaction
# as the write: an unfiltered list answers ``totalResults`` without COUNT(*) over the tenant.
resource_counts = Table(
    "resource_counts",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("resource", String(8), primary_key=True),
    Column("live", BigInteger, nullable=False),
)

# One row (id 1) whose generation every transaction that creates or revokes an API key
# increments: a server process reads it before it trusts what it cached (store/key_signal.py).
key_changes = Table(
    "key_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", BigInteger, nullable=False),
)
