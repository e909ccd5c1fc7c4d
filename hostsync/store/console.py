"""Read models of the console (hosts, groups, counts) and the one hard delete: purge.

Plain SQLAlchemy Core over :mod:`hostsync.store.tables`, always scoped by tenant. Unlike the
SCIM directory, these see soft-deleted hosts (the console shows them as *deleted*).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from hostsync.scim.schema import ENTERPRISE_USER_SCHEMA
from hostsync.store.activity.recording import RequestContext
from hostsync.store.activity.records import append
from hostsync.store.admin_tables import activity
from hostsync.store.directory import leave_every_group
from hostsync.store.host_index import unindex_host
from hostsync.store.sqlite.raw import prebuilt_runner
from hostsync.store.tables import api_keys, groups, memberships, users

PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class HostRow:
    """One host in the list."""

    id: str
    user_name: str
    display_name: str
    email: str
    department: str
    status: str
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class Host:
    """One host with its document, status and groups."""

    row: HostRow
    document: dict[str, Any]
    created_at: datetime
    deleted_at: datetime | None
    groups: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group in the list."""

    id: str
    display_name: str
    external_id: str | None
    members: int
    modified_at: datetime


@dataclass(frozen=True, slots=True)
class Counts:
    """The tenant's directory at a glance."""

    active: int
    deactivated: int
    deleted: int
    groups: int
    last_key_use: datetime | None


def _status(active: bool, deleted_at: datetime | None) -> str:
    if deleted_at is not None:
        return "deleted"
    return "active" if active else "deactivated"


def _email(document: dict[str, Any]) -> str:
    emails = document.get("emails") or []
    if not isinstance(emails, list):
        return ""
    primary = [e for e in emails if isinstance(e, dict) and e.get("primary") is True]
    for entry in primary + [e for e in emails if isinstance(e, dict)]:
        if entry.get("value"):
            return str(entry["value"])
    return ""


def _host_row(row: Any) -> HostRow:
    document: dict[str, Any] = row.document or {}
    name = document.get("name") if isinstance(document.get("name"), dict) else {}
    display = document.get("displayName") or (name or {}).get("formatted") or ""
    enterprise = document.get(ENTERPRISE_USER_SCHEMA) or {}
    return HostRow(
        id=row.id,
        user_name=row.user_name,
        display_name=str(display),
        email=_email(document),
        department=str(enterprise.get("department") or "") if isinstance(enterprise, dict) else "",
        status=_status(row.active, row.deleted_at),
        modified_at=row.modified_at,
    )


def _like(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_hosts(
    connection: Connection,
    tenant_id: str,
    *,
    search: str = "",
    status: str = "",
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[int, list[HostRow]]:
    """Hosts matching a search (user name, display name, e-mail) and status, newest change first."""
    c = users.c
    conditions: list[Any] = [c.tenant_id == tenant_id]
    if search.strip():
        pattern = _like(search.strip())
        conditions.append(
            or_(
                c.user_name_folded.like(pattern, escape="\\"),
                func.lower(c.document["displayName"].as_string()).like(pattern, escape="\\"),
                func.lower(c.document[("emails", 0, "value")].as_string()).like(
                    pattern, escape="\\"
                ),
            )
        )
    if status == "active":
        conditions += [c.deleted_at.is_(None), c.active.is_(True)]
    elif status == "deactivated":
        conditions += [c.deleted_at.is_(None), c.active.is_(False)]
    elif status == "deleted":
        conditions.append(c.deleted_at.is_not(None))
    total = connection.execute(
        select(func.count()).select_from(users).where(*conditions)
    ).scalar_one()
    rows = connection.execute(
        select(users)
        .where(*conditions)
        .order_by(c.modified_at.desc(), c.pk.desc())
        .offset(offset)
        .limit(limit)
    )
    return int(total), [_host_row(row) for row in rows]


def get_host(connection: Connection, tenant_id: str, host_id: str) -> Host | None:
    """One host of the tenant (deleted ones included), with its groups."""
    row = connection.execute(
        select(users).where(users.c.tenant_id == tenant_id, users.c.id == host_id)
    ).first()
    if row is None:
        return None
    member_of = connection.execute(
        select(groups.c.id, groups.c.display_name)
        .join(
            memberships,
            and_(
                memberships.c.group_id == groups.c.id,
                memberships.c.tenant_id == groups.c.tenant_id,
            ),
        )
        .where(
            groups.c.tenant_id == tenant_id,
            memberships.c.tenant_id == tenant_id,
            memberships.c.member_id == host_id,
            groups.c.deleted_at.is_(None),
        )
        .order_by(groups.c.display_name_folded)
    ).all()
    return Host(
        row=_host_row(row),
        document=dict(row.document or {}),
        created_at=row.created_at,
        deleted_at=row.deleted_at,
        groups=[(g.id, g.display_name) for g in member_of],
    )


def purge_host(
    connection: Connection, tenant_id: str, host_id: str, context: RequestContext
) -> bool:
    """Erase a soft-deleted host for good; return False if there is no such deleted host.

    The row goes, and the personal data earlier activity rows hold about it (names, old and
    new values) is blanked; a ``purge`` row records who erased which id, and when.
    """
    result = connection.execute(
        delete(users).where(
            users.c.tenant_id == tenant_id,
            users.c.id == host_id,
            users.c.deleted_at.is_not(None),
        )
    )
    if not result.rowcount:
        return False
    leave_every_group(connection, tenant_id, host_id)  # left them when deleted; in case
    # A deleted host has no rows in the search index (store/frontdesk/search.py); in case.
    unindex_host(prebuilt_runner(connection), connection.dialect.name, tenant_id, host_id)
    connection.execute(
        update(activity)
        .where(activity.c.tenant_id == tenant_id, activity.c.resource_id == host_id)
        .values(resource_name=None, changes=[])
    )
    append(
        connection,
        tenant_id,
        context,
        operation="purge",
        status=200,
        resource_type="User",
        resource_id=host_id,
        detail="Erased by an administrator (the only hard delete)",
    )
    return True


def list_groups(
    connection: Connection,
    tenant_id: str,
    *,
    search: str = "",
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[int, list[GroupRow]]:
    """Groups (not deleted) matching a search on the display name, by name."""
    g = groups.c
    conditions: list[Any] = [g.tenant_id == tenant_id, g.deleted_at.is_(None)]
    if search.strip():
        conditions.append(g.display_name_folded.like(_like(search.strip()), escape="\\"))
    total = connection.execute(
        select(func.count()).select_from(groups).where(*conditions)
    ).scalar_one()
    rows = connection.execute(
        select(g.id, g.display_name, g.external_id, g.modified_at, g.member_count.label("members"))
        .where(*conditions)
        .order_by(g.display_name_folded, g.pk)
        .offset(offset)
        .limit(limit)
    )
    return int(total), [
        GroupRow(r.id, r.display_name, r.external_id, int(r.members), r.modified_at) for r in rows
    ]


def get_group(connection: Connection, tenant_id: str, group_id: str) -> GroupRow | None:
    """One group (not deleted) with its member count."""
    row = connection.execute(
        select(groups).where(
            groups.c.tenant_id == tenant_id, groups.c.id == group_id, groups.c.deleted_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    members = int(row.member_count)
    return GroupRow(row.id, row.display_name, row.external_id, members, row.modified_at)


def group_members(
    connection: Connection,
    tenant_id: str,
    group_id: str,
    *,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> list[tuple[str, str, str]]:
    """One page of a group's members: (id, type, name), ordered by member id.

    The name is the member's own (a user's userName, a group's displayName) only when the
    member is a live user or group of this tenant, else the display name the client sent:
    a membership never shows another tenant's data, nor a deleted user's.
    """
    m = memberships.c
    u = users.c
    member_group = groups.alias("member_group")
    g = member_group.c
    rows = connection.execute(
        select(m.member_id, m.member_type, m.display, u.user_name, g.display_name)
        .outerjoin(
            users,
            and_(u.id == m.member_id, u.tenant_id == m.tenant_id, u.deleted_at.is_(None)),
        )
        .outerjoin(
            member_group,
            and_(g.id == m.member_id, g.tenant_id == m.tenant_id, g.deleted_at.is_(None)),
        )
        .where(m.tenant_id == tenant_id, m.group_id == group_id)
        .order_by(m.member_id)
        .offset(offset)
        .limit(limit)
    )
    return [
        (r.member_id, r.member_type, r.user_name or r.display_name or r.display or "") for r in rows
    ]


def counts(connection: Connection, tenant_id: str) -> Counts:
    """Active, deactivated and deleted hosts, groups, and the last use of any API key."""
    c = users.c
    row = connection.execute(
        select(
            func.count().filter(c.deleted_at.is_(None), c.active.is_(True)),
            func.count().filter(c.deleted_at.is_(None), c.active.is_(False)),
            func.count().filter(c.deleted_at.is_not(None)),
        ).where(c.tenant_id == tenant_id)
    ).one()
    group_count = connection.execute(
        select(func.count())
        .select_from(groups)
        .where(groups.c.tenant_id == tenant_id, groups.c.deleted_at.is_(None))
    ).scalar_one()
    last_use = connection.execute(
        select(func.max(api_keys.c.last_used_at)).where(api_keys.c.tenant_id == tenant_id)
    ).scalar_one()
    return Counts(int(row[0]), int(row[1]), int(row[2]), int(group_count), last_use)
