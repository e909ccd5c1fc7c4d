"""The provisioning activity log: what each SCIM request changed, or why it failed.

Changes are captured by :class:`RecordingDirectory`, a decorator of
:class:`hostsync.scim.ports.Directory` that delegates every call and notes each change (users
and groups created, replaced or deleted, with the changed attributes old → new, and membership
changes). :meth:`RecordingDirectory.flush` writes them on the unit of work's own connection,
so they commit or roll back with the change itself. Failures are written by
:func:`record_failure` in a short transaction of their own (the failed request's transaction
was rolled back). ``password`` never reaches the log, nor does any attribute named like a
secret, and API keys in a stored text (a path, a detail: a key pasted into a filter) are cut
to their shown prefix (:func:`hostsync.store.redaction.redact_keys`). Administrators' actions
(keys, sign-in, sign-out, administrators, purges) are rows too: :func:`audit`. Rows older than
the retention period are removed by :func:`prune`. The CSV export neutralises spreadsheet
formulas in every cell and reads the rows in chunks of its own short transactions.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hostsync.scim.ports import Directory, GroupRef, Member, Page, Selection, Stored
from hostsync.scim.resources import Document
from hostsync.store.admin_tables import activity, request_counts
from hostsync.store.directory import now
from hostsync.store.sqlite.raw import run_prebuilt
from hostsync.store.redaction import redact_keys

if TYPE_CHECKING:
    from hostsync.store.database import Database

log = logging.getLogger(__name__)

SECRET_NAMES = frozenset({"password", "secret", "token", "apikey", "api_key", "credential"})
MAX_LISTED_MEMBERS = 100
MAX_VALUE_CHARS = 500
DEFAULT_RETENTION_DAYS = 90
OUTCOMES = ("success", "failure")
RESOURCE_TYPES = ("User", "Group", "ApiKey", "Admin")


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asked for what: the client's User-Agent, the HTTP method and path, the actor."""

    method: str
    path: str
    client: str | None = None
    actor: str = "scim"


@dataclass(frozen=True, slots=True)
class Change:
    """One attribute's change: its path (``emails[0].value``), old and new values."""

    path: str
    old: Any
    new: Any


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


# -- diffs -------------------------------------------------------------------------------
_INSERT_ACTIVITY = insert(activity)


@lru_cache(maxsize=4096)  # a document's attribute names come from a small vocabulary
def _is_secret(name: str) -> bool:
    return name.replace("-", "_").lower() in SECRET_NAMES


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    return value


def flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a document to ``{attribute path: leaf value}``; secrets are left out.

    ``{"name": {"givenName": "A"}, "emails": [{"value": "a@x"}]}`` becomes
    ``{"name.givenName": "A", "emails[0].value": "a@x"}``; empty objects and lists become
    leaves themselves so their appearance is visible.
    """
    flat: dict[str, Any] = {}
    _flatten_into(flat, document, prefix)
    return flat


_LEAVES = frozenset({str, bool, int, float, type(None)})


def _flatten_into(flat: dict[str, Any], document: Any, prefix: str) -> None:
    # By exact type first (JSON's dicts, lists and scalars): an isinstance check against
    # Mapping (an ABC) for every node cost more than the rest of the walk. A container's
    # scalar members are set here rather than in a call of their own (most nodes are leaves).
    # The two loops repeat their leaf lines on purpose: one loop over generators of (path,
    # value) pairs cost creates and PATCHes 2-3 % more instructions (callgrind).
    kind = type(document)
    mapping = kind is dict or (
        kind is not list and kind not in _LEAVES and isinstance(document, Mapping)
    )
    if mapping and document:
        for key, value in document.items():
            name = key if key.__class__ is str else str(key)
            if _is_secret(name):
                continue
            path = f"{prefix}.{name}" if prefix else name
            if value.__class__ is str:
                flat[path] = value if len(value) <= MAX_VALUE_CHARS else _clip(value)
            elif type(value) in _LEAVES:
                flat[path] = value
            else:
                _flatten_into(flat, value, path)
        return
    if (kind is list or (kind not in _LEAVES and isinstance(document, list))) and document:
        for index, value in enumerate(document):
            path = f"{prefix}[{index}]"
            if value.__class__ is str:
                flat[path] = value if len(value) <= MAX_VALUE_CHARS else _clip(value)
            elif type(value) in _LEAVES:
                flat[path] = value
            else:
                _flatten_into(flat, value, path)
        return
    if prefix:
        flat[prefix] = _clip(document)


_ABSENT = object()


def diff(old: Document | None, new: Document | None) -> list[Change]:
    """The attribute paths whose values differ between two documents, in path order.

    The same as comparing ``flatten(old)`` with ``flatten(new)``, but only the top-level
    attributes that differ are flattened (a PATCH changes a few of a document's many).
    """
    return [Change(*change) for change in _differences(old, new)]


def change_rows(old: Document | None, new: Document | None) -> list[dict[str, Any]]:
    """:func:`diff` as the activity row's JSON holds it: ``{"path", "old", "new"}`` each."""
    return [{"path": path, "old": was, "new": now_} for path, was, now_ in _differences(old, new)]


def _differences(old: Document | None, new: Document | None) -> list[tuple[str, Any, Any]]:
    before_doc, after_doc = old or {}, new or {}
    if not before_doc or not after_doc:  # a create or a delete: every path is new or gone
        flat = flatten(after_doc or before_doc)
        if after_doc:
            return [(path, None, flat[path]) for path in sorted(flat)]
        return [(path, flat[path], None) for path in sorted(flat)]
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in before_doc.keys() | after_doc.keys():
        was, now_ = before_doc.get(key, _ABSENT), after_doc.get(key, _ABSENT)
        if was == now_ or _is_secret(str(key)):
            continue
        if was is not _ABSENT:
            _flatten_into(before, was, str(key))
        if now_ is not _ABSENT:
            _flatten_into(after, now_, str(key))
    out = []
    for path in sorted(before.keys() | after.keys()):
        was, now_ = before.get(path, _ABSENT), after.get(path, _ABSENT)
        if was != now_:  # or present on one side only: _ABSENT equals nothing else
            out.append((path, None if was is _ABSENT else was, None if now_ is _ABSENT else now_))
    return out


# -- capture -----------------------------------------------------------------------------
@dataclass(slots=True)
class _Pending:
    resource_type: str
    resource_id: str
    operation: str
    name: str | None
    old: Document | None
    new: Document | None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    cleared: bool = False


def _name(resource_type: str, document: Document | None) -> str | None:
    if document is None:
        return None
    value = document.get("userName" if resource_type == "User" else "displayName")
    return None if value is None else str(value)


class RecordingDirectory:
    """A :class:`~hostsync.scim.ports.Directory` that notes every change it passes on.

    Call :meth:`flush` inside the unit of work, after the service returned and before the
    transaction commits. Changes made inside a savepoint that rolls back are forgotten with it.
    """

    def __init__(
        self,
        inner: Directory,
        connection: Connection,
        tenant_id: str,
        context: RequestContext,
    ) -> None:
        self.inner = inner
        self.connection = connection
        self.tenant_id = tenant_id
        self.context = context
        self._pending: list[_Pending] = []
        self._seen: dict[tuple[str, str], Stored] = {}

    # -- bookkeeping ---------------------------------------------------------------------
    def _current(self, resource_type: str, resource_id: str) -> Stored | None:
        known = self._seen.get((resource_type, resource_id))
        if known is not None:
            return known
        getter = self.inner.get_user if resource_type == "User" else self.inner.get_group
        return getter(resource_id)

    def _note(self, stored: Stored | None, resource_type: str) -> Stored | None:
        if stored is not None:
            self._seen[(resource_type, stored.id)] = stored
        return stored

    def _entry(self, resource_type: str, resource_id: str, operation: str) -> _Pending:
        for pending in reversed(self._pending):
            if pending.resource_type == resource_type and pending.resource_id == resource_id:
                if operation == "delete":
                    pending.operation = "delete"
                return pending
        current = self._current(resource_type, resource_id)
        old = None if current is None else current.document
        pending = _Pending(
            resource_type, resource_id, operation, _name(resource_type, old), old, old
        )
        self._pending.append(pending)
        return pending

    @contextmanager
    def _guarded(self) -> Iterator[object]:
        mark = len(self._pending)
        seen = dict(self._seen)
        with self.inner.savepoint() as savepoint:
            try:
                yield savepoint
            except BaseException:
                del self._pending[mark:]
                self._seen = seen
                raise

    def savepoint(self) -> AbstractContextManager[object]:
        """A nested transaction; the changes noted inside it are dropped if it rolls back."""
        return self._guarded()

    # -- users ---------------------------------------------------------------------------
    def create_user(self, document: Document) -> Stored:
        """Create (see the port) and note it."""
        stored = self.inner.create_user(document)
        self._note(stored, "User")
        self._pending.append(
            _Pending("User", stored.id, "create", _name("User", document), None, stored.document)
        )
        return stored

    def get_user(self, user_id: str) -> Stored | None:
        """Delegate."""
        return self._note(self.inner.get_user(user_id), "User")

    def replace_user(self, user_id: str, document: Document, *, version: int) -> Stored:
        """Replace (see the port) and note the old and new documents."""
        entry = self._entry("User", user_id, "update")
        stored = self.inner.replace_user(user_id, document, version=version)
        entry.new = stored.document
        entry.name = _name("User", stored.document)
        self._note(stored, "User")
        return stored

    def delete_user(self, user_id: str) -> bool:
        """Soft-delete (see the port) and note it."""
        current = self._current("User", user_id)
        deleted = self.inner.delete_user(user_id)
        if deleted and current is not None:
            entry = self._entry("User", user_id, "delete")
            entry.new = None
        return deleted

    def list_users(self, selection: Selection) -> Page:
        """Delegate."""
        return self.inner.list_users(selection)

    def groups_of(self, user_ids: Sequence[str]) -> dict[str, list[GroupRef]]:
        """Delegate."""
        return self.inner.groups_of(user_ids)

    # -- groups --------------------------------------------------------------------------
    def create_group(
        self,
        document: Document,
        members: Sequence[str],
        displays: Mapping[str, str] | None = None,
    ) -> Stored:
        """Create (see the port) and note it with its members."""
        stored = self.inner.create_group(document, members, displays)
        self._note(stored, "Group")
        pending = _Pending(
            "Group", stored.id, "create", _name("Group", document), None, stored.document
        )
        pending.added = list(dict.fromkeys(members))
        self._pending.append(pending)
        return stored

    def get_group(self, group_id: str) -> Stored | None:
        """Delegate."""
        return self._note(self.inner.get_group(group_id), "Group")

    def replace_group(self, group_id: str, document: Document, *, version: int) -> Stored:
        """Replace (see the port) and note the old and new documents."""
        entry = self._entry("Group", group_id, "update")
        stored = self.inner.replace_group(group_id, document, version=version)
        entry.new = stored.document
        entry.name = _name("Group", stored.document)
        self._note(stored, "Group")
        return stored

    def delete_group(self, group_id: str) -> bool:
        """Soft-delete (see the port) and note it."""
        current = self._current("Group", group_id)
        deleted = self.inner.delete_group(group_id)
        if deleted and current is not None:
            entry = self._entry("Group", group_id, "delete")
            entry.new = None
        return deleted

    def list_groups(self, selection: Selection) -> Page:
        """Delegate."""
        return self.inner.list_groups(selection)

    def members_of(self, group_ids: Sequence[str]) -> dict[str, list[Member]]:
        """Delegate."""
        return self.inner.members_of(group_ids)

    def has_more_members_than(self, group_id: str, limit: int) -> bool:
        """Delegate."""
        return self.inner.has_more_members_than(group_id, limit)

    def add_members(
        self,
        group_id: str,
        member_ids: Sequence[str],
        displays: Mapping[str, str] | None = None,
    ) -> None:
        """Add members (see the port) and note them."""
        self.inner.add_members(group_id, member_ids, displays)
        if member_ids:
            entry = self._entry("Group", group_id, "update")
            for member_id in dict.fromkeys(member_ids):
                if member_id in entry.removed:
                    entry.removed.remove(member_id)
                else:
                    entry.added.append(member_id)

    def remove_members(self, group_id: str, member_ids: Sequence[str]) -> None:
        """Remove members (see the port) and note them."""
        self.inner.remove_members(group_id, member_ids)
        if member_ids:
            entry = self._entry("Group", group_id, "update")
            for member_id in dict.fromkeys(member_ids):
                if member_id in entry.added:
                    entry.added.remove(member_id)
                else:
                    entry.removed.append(member_id)

    def clear_members(self, group_id: str) -> None:
        """Remove every member (see the port) and note it."""
        entry = self._entry("Group", group_id, "update")
        entry.cleared = True
        entry.added.clear()
        self.inner.clear_members(group_id)

    def touch_group(self, group_id: str, *, version: int) -> Stored:
        """Delegate (a version bump is not a change of its own)."""
        stored = self.inner.touch_group(group_id, version=version)
        self._note(stored, "Group")
        return stored

    # -- writing -------------------------------------------------------------------------
    def changes(self) -> list[dict[str, Any]]:
        """The rows :meth:`flush` would write (for tests and previews)."""
        rows = []
        moment = now()
        path = redact_keys(self.context.path)
        for pending in self._pending:
            changes = [] if pending.operation == "delete" else change_rows(pending.old, pending.new)
            if pending.cleared:
                changes.append({"path": "members", "old": "(all)", "new": None})
            if pending.added:
                changes.append(_member_change("members added", pending.added))
            if pending.removed:
                changes.append(_member_change("members removed", pending.removed))
            if pending.operation == "update" and not changes:
                continue
            operation = pending.operation
            if operation == "update" and self.context.method == "PUT":
                operation = "replace"
            rows.append(
                {
                    "tenant_id": self.tenant_id,
                    "at": moment,
                    "client": _client(self.context.client),
                    "actor": self.context.actor,
                    "method": self.context.method,
                    "path": path,
                    "operation": operation,
                    "resource_type": pending.resource_type,
                    "resource_id": pending.resource_id,
                    "resource_name": pending.name,
                    "status": _status(self.context.method, operation),
                    "changes": changes,
                    "detail": None,
                }
            )
        return rows

    def flush(self) -> int:
        """Write the noted changes on the unit of work's connection; return how many rows."""
        rows = self.changes()
        if rows:
            run_prebuilt(self.connection, _INSERT_ACTIVITY, rows)
        self._pending.clear()
        return len(rows)


def _member_change(label: str, ids: list[str]) -> dict[str, Any]:
    shown = ids[:MAX_LISTED_MEMBERS]
    more = len(ids) - len(shown)
    return {"path": label, "old": None, "new": shown + ([f"… {more} more"] if more else [])}


def _status(method: str, operation: str) -> int:
    if operation == "create" and method == "POST":
        return 201
    if operation == "delete" and method == "DELETE":
        return 204
    return 200


def _client(client: str | None) -> str | None:
    return None if client is None else redact_keys(client)[:300]


# -- failures and admin actions ----------------------------------------------------------
def record_failure(
    database: Database,
    tenant_id: str,
    context: RequestContext,
    status: int,
    detail: str | None,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> None:
    """Record a failed request in a transaction of its own; never raises."""
    try:
        with database.connect(write=True) as connection:
            append(
                connection,
                tenant_id,
                context,
                operation=_operation_of(context.method),
                status=status,
                detail=detail,
                resource_type=resource_type,
                resource_id=resource_id,
            )
    except Exception:  # the log must never turn a failure into a different one
        log.exception("could not record a failed request")


def _operation_of(method: str) -> str:
    return {
        "POST": "create",
        "PUT": "replace",
        "PATCH": "update",
        "DELETE": "delete",
        "GET": "read",
    }.get(method, method.lower())


def append(
    connection: Connection,
    tenant_id: str,
    context: RequestContext,
    *,
    operation: str,
    status: int,
    detail: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    resource_name: str | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> None:
    """Append one row on the given connection (inside the caller's transaction)."""
    connection.execute(
        insert(activity).values(
            tenant_id=tenant_id,
            at=now(),
            client=_client(context.client),
            actor=redact_keys(context.actor)[:320],
            method=context.method[:10],
            path=redact_keys(context.path),
            operation=operation,
            resource_type=resource_type,
            resource_id=None if resource_id is None else redact_keys(resource_id)[:64],
            resource_name=None if resource_name is None else redact_keys(resource_name),
            status=status,
            changes=changes or [],
            detail=None if detail is None else redact_keys(detail)[:2000],
        )
    )


def audit(
    connection: Connection,
    tenant_id: str,
    context: RequestContext,
    operation: str,
    *,
    resource_type: str,
    resource_id: str | None = None,
    resource_name: str | None = None,
    status: int = 200,
    detail: str | None = None,
) -> None:
    """Record an administrator's action (or a failed sign-in) in the tenant's log.

    Operations: ``create``/``rotate``/``revoke`` of an ``ApiKey``; ``sign-in``,
    ``sign-in-failed``, ``sign-out``, ``create``, ``remove``, ``reset-password`` of an
    ``Admin``; the rows are written on the caller's connection, in its transaction.
    """
    append(
        connection,
        tenant_id,
        context,
        operation=operation[:16],
        status=status,
        detail=detail,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
    )


# -- reading -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ActivityFilter:
    """Which rows a page shows: outcome, resource type or id, and a time window."""

    outcome: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _conditions(tenant_id: str, selected: ActivityFilter) -> list[Any]:
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
    if selected.since is not None:
        conditions.append(c.at >= selected.since)
    if selected.until is not None:
        conditions.append(c.at < selected.until)
    return conditions


def _entry_of(row: Any) -> Entry:
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
    conditions = _conditions(tenant_id, selected)
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
    return total, [_entry_of(row) for row in rows]


CSV_COLUMNS = (
    "time",
    "client",
    "actor",
    "method",
    "path",
    "operation",
    "resource_type",
    "resource_id",
    "resource_name",
    "status",
    "outcome",
    "changes",
    "detail",
)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: object) -> str:
    """A cell that a spreadsheet shows as text, never evaluates (CSV injection).

    OWASP's rule: a cell whose first character, after any leading spaces, is ``=``, ``+``,
    ``-``, ``@``, a tab or a line break (``|`` and ``%`` too, for older spreadsheets) is
    prefixed with a single quote. Applied to every cell, whatever its column.
    """
    text = "" if value is None else str(value)
    if text.lstrip(" ").startswith(_FORMULA_STARTS):
        return "'" + text
    return text


_csv_cell = csv_cell  # the name earlier code used
EXPORT_CHUNK_ROWS = 500


def _csv_row(entry: Entry) -> list[str]:
    return [
        csv_cell(value)
        for value in (
            entry.at.isoformat(timespec="seconds") + "Z",
            entry.client,
            entry.actor,
            entry.method,
            entry.path,
            entry.operation,
            entry.resource_type,
            entry.resource_id,
            entry.resource_name,
            entry.status,
            entry.outcome,
            "; ".join(f"{c['path']}: {c['old']!r} → {c['new']!r}" for c in entry.changes),
            entry.detail,
        )
    ]


def _export_rows(
    connection: Connection,
    tenant_id: str,
    selected: ActivityFilter,
    after: tuple[datetime, int] | None,
    limit: int | None,
) -> list[Any]:
    c = activity.c
    conditions = _conditions(tenant_id, selected)
    if after is not None:
        at, pk = after
        conditions.append((c.at < at) | ((c.at == at) & (c.pk < pk)))
    statement = select(activity).where(*conditions).order_by(c.at.desc(), c.pk.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return list(connection.execute(statement))


def _csv_text(rows: Sequence[list[str]], header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def export_csv(connection: Connection, tenant_id: str, selected: ActivityFilter) -> Iterator[str]:
    """The matching rows as CSV text, header first, newest first, in chunks (one connection)."""
    yield _csv_text([], header=True)
    after: tuple[datetime, int] | None = None
    while True:
        rows = _export_rows(connection, tenant_id, selected, after, EXPORT_CHUNK_ROWS)
        if not rows:
            return
        yield _csv_text([_csv_row(_entry_of(row)) for row in rows])
        after = (rows[-1].at, rows[-1].pk)


def stream_csv(
    database: Database,
    tenant_id: str,
    selected: ActivityFilter,
    chunk_rows: int = EXPORT_CHUNK_ROWS,
) -> Iterator[str]:
    """Like :func:`export_csv`, each chunk read in a short read transaction of its own.

    The rows are read by key (time, id) after the last one sent, so a download of any size
    holds at most one chunk in memory and no connection while the client reads.
    """
    yield _csv_text([], header=True)
    after: tuple[datetime, int] | None = None
    while True:
        with database.connect(write=False) as connection:
            rows = _export_rows(connection, tenant_id, selected, after, chunk_rows)
        if not rows:
            return
        yield _csv_text([_csv_row(_entry_of(row)) for row in rows])
        after = (rows[-1].at, rows[-1].pk)


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


def prune_each_tenant(connection: Connection, days: int) -> dict[str, int]:
    """Like :func:`prune` for every tenant; return how many rows each tenant lost."""
    cutoff = now() - timedelta(days=days)
    counted = connection.execute(
        select(activity.c.tenant_id, func.count())
        .where(activity.c.at < cutoff)
        .group_by(activity.c.tenant_id)
    )
    removed = {tenant: int(count) for tenant, count in counted}
    if removed:
        connection.execute(delete(activity).where(activity.c.at < cutoff))
    return removed


def prune(connection: Connection, days: int, tenant_id: str | None = None) -> int:
    """Delete rows older than ``days`` days (of one tenant, or all); return how many."""
    condition = activity.c.at < now() - timedelta(days=days)
    if tenant_id is not None:
        condition = condition & (activity.c.tenant_id == tenant_id)
    return int(connection.execute(delete(activity).where(condition)).rowcount or 0)


class Pruner:
    """Prunes every tenant's activity at most once per ``interval`` seconds (per process)."""

    def __init__(self, days: int = DEFAULT_RETENTION_DAYS, interval: float = 3600.0) -> None:
        self.days = days
        self.interval = interval
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe_prune(self, database: Database) -> int | None:
        """Prune if the interval has passed since the last run; return rows deleted or None."""
        with self._lock:
            moment = time.monotonic()
            if moment < self._next:
                return None
            self._next = moment + self.interval
        with database.connect(write=True) as connection:
            return prune(connection, self.days)


class RequestCounter:
    """Counts authenticated SCIM requests per tenant and hour, in memory, flushed in batches.

    Counting costs a dictionary update; the totals reach the ``request_counts`` table at most
    every ``flush_seconds`` (and when the application stops), so a crash loses at most that
    many seconds of counts. Reads are counted too, which the activity log does not record.
    """

    def __init__(self, flush_seconds: float = 5.0) -> None:
        self.flush_seconds = flush_seconds
        self._pending: dict[tuple[str, datetime], list[int]] = {}
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._current: tuple[float, float, datetime] = (0.0, 0.0, datetime.min)

    def _hour(self) -> datetime:
        """The current UTC hour (naive), worked out once per hour rather than per request."""
        moment = time.time()
        begins, ends, hour = self._current
        if not begins <= moment < ends:
            begins = moment - moment % 3600  # POSIX time has no leap seconds: hours align
            hour = datetime.fromtimestamp(begins, UTC).replace(tzinfo=None)
            self._current = (begins, begins + 3600, hour)
        return hour

    def count(self, tenant_id: str, *, failed: bool) -> bool:
        """Count one request; return True when a flush is due."""
        hour = self._hour()
        with self._lock:
            totals = self._pending.setdefault((tenant_id, hour), [0, 0])
            totals[0] += 1
            totals[1] += int(failed)
            return time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self, database: Database) -> None:
        """Add the pending counts to the table, in one short transaction."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        rows = [
            {"tenant_id": tenant, "hour": hour, "requests": totals[0], "errors": totals[1]}
            for (tenant, hour), totals in pending.items()
        ]
        dialect_insert = pg_insert if database.dialect == "postgresql" else sqlite_insert
        statement = dialect_insert(request_counts)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "hour"],
            set_={
                "requests": request_counts.c.requests + statement.excluded.requests,
                "errors": request_counts.c.errors + statement.excluded.errors,
            },
        )
        with database.connect(write=True) as connection:
            connection.execute(statement, rows)


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
