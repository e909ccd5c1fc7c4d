"""The console's reads of the activity log: filtered pages, names, recent summary, totals.

Every query is scoped by tenant, the subqueries and the name lookups too: a search, a filter or
a name never reaches another tenant's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Text, and_, cast, func, or_, select, union_all

from hostsync.store.activity.labels import (
    ChangeLine,
    change_lines,
    change_text,
    ids_to_name,
    is_member_change,
)
from hostsync.store.admin_tables import activity, request_counts
from hostsync.store.clock import now
from hostsync.store.tables import groups, users

OUTCOMES = ("success", "failure")
RESOURCE_TYPES = ("User", "Group", "ApiKey", "Admin", "Extension")
OPERATIONS: dict[str, tuple[str, ...]] = {
    "create": ("create",),
    "update": ("update", "replace"),
    "delete": ("delete", "purge"),
}
"""The operation filter's choices and the stored operations each one shows."""
MAX_PERSON_MEMBERS = 20
"""A person search finds membership changes when it names at most this many hosts."""
MAX_NAMED_IDS = 2_000
"""At most this many ids are looked up by :func:`names_of` at once (the rest stay ids)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the activity log."""

    id: int
    at: datetime
    client: str | None
    actor: str
    method: str
    path: str
    operation: str
    resource_type: str | None
    resource_id: str | None
    resource_name: str | None
    status: int
    changes: list[dict[str, Any]]
    detail: str | None

    @property
    def outcome(self) -> str:
        """``success`` or ``failure``."""
        return "failure" if self.status >= 400 else "success"


@dataclass(frozen=True, slots=True)
class ActivityFilter:
    """Which rows a page shows: outcome, operation, resource type or id, a person, a window.

    ``person`` matches the name the row was recorded with (a host's userName, a group's
    name), a host of the tenant whose userName or display name contains it, and a group's
    membership change listing one of ``person_ids`` (filled by :func:`with_people`).
    """

    outcome: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    operation: str | None = None
    person: str | None = None
    person_ids: tuple[str, ...] | None = None


def like_pattern(text: str) -> str:
    """A LIKE pattern (backslash escapes) matching ``text`` anywhere, case-folded."""
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _hosts_named(tenant_id: str, person: str) -> Any:
    """The ids of the tenant's hosts whose userName or display name contains ``person``."""
    pattern = like_pattern(person)
    u = users.c
    return select(u.id).where(
        u.tenant_id == tenant_id,
        or_(
            u.user_name_folded.like(pattern, escape="\\"),
            func.lower(u.document["displayName"].as_string()).like(pattern, escape="\\"),
            func.lower(u.document[("name", "formatted")].as_string()).like(pattern, escape="\\"),
        ),
    )


def with_people(connection: Connection, tenant_id: str, selected: ActivityFilter) -> ActivityFilter:
    """``selected`` with the hosts its person search names, when there are few of them.

    With at most :data:`MAX_PERSON_MEMBERS` such hosts, a group's membership change that
    lists one of them is found too; with more, only the rows about the hosts themselves.
    """
    if not selected.person or selected.person_ids is not None:
        return selected
    found = list(
        connection.execute(
            _hosts_named(tenant_id, selected.person).limit(MAX_PERSON_MEMBERS + 1)
        ).scalars()
    )
    return replace(selected, person_ids=tuple(found) if len(found) <= MAX_PERSON_MEMBERS else ())


def _person_condition(tenant_id: str, selected: ActivityFilter) -> Any:
    person = selected.person or ""
    c = activity.c
    matches: list[Any] = [
        func.lower(c.resource_name).like(like_pattern(person), escape="\\"),
        c.resource_id.in_(_hosts_named(tenant_id, person).scalar_subquery()),
    ]
    if selected.person_ids:
        listed = cast(c.changes, Text)
        matches.append(
            and_(
                c.resource_type == "Group",
                or_(*[listed.like(f'%"{host_id}"%') for host_id in selected.person_ids]),
            )
        )
    return or_(*matches)


def filter_conditions(tenant_id: str, selected: ActivityFilter) -> list[Any]:
    """The WHERE conditions of the tenant's rows that ``selected`` shows."""
    c = activity.c
    conditions: list[Any] = [c.tenant_id == tenant_id]
    if selected.outcome == "failure":
        conditions.append(c.status >= 400)
    elif selected.outcome == "success":
        conditions.append(c.status < 400)
    if selected.resource_type:
        conditions.append(c.resource_type == selected.resource_type)
    if selected.resource_id:
        conditions.append(c.resource_id == selected.resource_id)
    if selected.operation in OPERATIONS:
        conditions.append(c.operation.in_(OPERATIONS[selected.operation]))
    if selected.person:
        conditions.append(_person_condition(tenant_id, selected))
    if selected.since is not None:
        conditions.append(c.at >= selected.since)
    if selected.until is not None:
        conditions.append(c.at < selected.until)
    return conditions


def entry_of(row: Any) -> Entry:
    """The :class:`Entry` of an ``activity`` row."""
    return Entry(
        id=row.pk,
        at=row.at,
        client=row.client,
        actor=row.actor,
        method=row.method,
        path=row.path,
        operation=row.operation,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        resource_name=row.resource_name,
        status=row.status,
        changes=list(row.changes or []),
        detail=row.detail,
    )


def page(
    connection: Connection,
    tenant_id: str,
    selected: ActivityFilter,
    *,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[Entry]]:
    """The total matching and one page of rows, newest first."""
    conditions = filter_conditions(tenant_id, with_people(connection, tenant_id, selected))
    total = connection.execute(
        select(func.count()).select_from(activity).where(*conditions)
    ).scalar_one()
    rows = connection.execute(
        select(activity)
        .where(*conditions)
        .order_by(activity.c.at.desc(), activity.c.pk.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, [entry_of(row) for row in rows]


def names_of(connection: Connection, tenant_id: str, ids: Iterable[str]) -> dict[str, str]:
    """The tenant's hosts' and groups' names by id, in one query (deleted ones included).

    A host is named by its display name, else its userName; a group by its display name.
    Ids of another tenant, and purged hosts, are not found (they stay ids on the page).
    """
    wanted = sorted({i for i in ids if i and len(i) <= 64})[:MAX_NAMED_IDS]
    if not wanted:
        return {}
    u, g = users.c, groups.c
    display = u.document["displayName"].as_string()
    found = union_all(
        select(u.id, func.coalesce(func.nullif(display, ""), u.user_name)).where(
            u.tenant_id == tenant_id, u.id.in_(wanted)
        ),
        select(g.id, g.display_name).where(g.tenant_id == tenant_id, g.id.in_(wanted)),
    )
    return {row[0]: str(row[1]) for row in connection.execute(found) if row[1]}


SUMMARY_LABELS = 3
SUMMARY_CHARS = 120


@dataclass(frozen=True, slots=True)
class Readable:
    """An entry as people read it: the resource's name, its changes, a one-line summary.

    ``inline`` is true when the summary says everything (one short change): the page then
    shows no details to open.
    """

    entry: Entry
    name: str | None
    lines: list[ChangeLine]
    summary: str
    inline: bool


def _summary(lines: list[ChangeLine]) -> tuple[str, bool]:
    """One line: a single short change in full; else the labels changed, members by name.

    Membership changes lead (they are what a group's row is about), each with its names when
    they fit; then up to :data:`SUMMARY_LABELS` labels and how many more.
    """
    if len(lines) == 1:
        text = change_text(lines[0])
        if len(text) <= SUMMARY_CHARS:
            return text, True
        return text[: SUMMARY_CHARS - 1] + "…", False
    members = [line for line in lines if is_member_change(line.path)]
    parts = []
    for line in members:
        text = change_text(line)
        parts.append(text if len(text) <= SUMMARY_CHARS // 2 else line.label)
    labels = list(dict.fromkeys(line.label for line in lines if line not in members))
    shown = labels[:SUMMARY_LABELS]
    more = len(labels) - len(shown)
    if more:
        return "; ".join([*parts, f"{', '.join(shown)} and {more} more"]), False
    if len(shown) > 1:
        return "; ".join([*parts, f"{', '.join(shown[:-1])} and {shown[-1]}"]), False
    return "; ".join([*parts, *shown]), False


def readable(connection: Connection, tenant_id: str, entries: list[Entry]) -> list[Readable]:
    """The entries with names for the ids they hold: one query for the whole list."""
    wanted: set[str] = set()
    for entry in entries:
        wanted |= ids_to_name(entry.changes)
        if entry.resource_id and not entry.resource_name:
            wanted.add(entry.resource_id)
    names = names_of(connection, tenant_id, wanted)
    out = []
    for entry in entries:
        lines = change_lines(entry.changes, names)
        summary, inline = _summary(lines)
        name = entry.resource_name or (names.get(entry.resource_id) if entry.resource_id else None)
        out.append(Readable(entry, name, lines, summary, inline))
    return out


@dataclass(frozen=True, slots=True)
class Summary:
    """Recent activity of a tenant: counts in a window and the last entries' outcomes."""

    changes: int
    failures: int
    last_at: datetime | None
    recent_failure_ratio: float
    recent_count: int


def summary(connection: Connection, tenant_id: str, window: timedelta, recent: int = 20) -> Summary:
    """Changes and failures in ``window``, and the failure ratio of the last ``recent`` rows."""
    since = now() - window
    c = activity.c
    counted = connection.execute(
        select(
            func.count().filter(c.status < 400),
            func.count().filter(c.status >= 400),
        ).where(c.tenant_id == tenant_id, c.at >= since)
    ).one()
    last_at = connection.execute(
        select(func.max(c.at)).where(c.tenant_id == tenant_id)
    ).scalar_one()
    statuses = [
        status
        for (status,) in connection.execute(
            select(c.status)
            .where(c.tenant_id == tenant_id, c.at >= since)
            .order_by(c.at.desc(), c.pk.desc())
            .limit(recent)
        )
    ]
    ratio = sum(1 for s in statuses if s >= 400) / len(statuses) if statuses else 0.0
    return Summary(int(counted[0]), int(counted[1]), last_at, ratio, len(statuses))


@dataclass(frozen=True, slots=True)
class RequestTotals:
    """Requests and failed requests in a window."""

    requests: int
    errors: int

    @property
    def error_ratio(self) -> float:
        """Failed requests as a share of all requests (0 when there were none)."""
        return self.errors / self.requests if self.requests else 0.0


def request_totals(connection: Connection, tenant_id: str, window: timedelta) -> RequestTotals:
    """Requests and errors counted for the tenant in the last ``window`` (whole hours)."""
    since = (now() - window).replace(minute=0, second=0, microsecond=0)
    c = request_counts.c
    requests, errors = connection.execute(
        select(func.coalesce(func.sum(c.requests), 0), func.coalesce(func.sum(c.errors), 0)).where(
            c.tenant_id == tenant_id, c.hour >= since
        )
    ).one()
    return RequestTotals(int(requests), int(errors))
