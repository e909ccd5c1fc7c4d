"""Changes recorded as they pass to the directory, written in the same transaction.

:class:`RecordingDirectory` decorates a :class:`hostsync.scim.ports.Directory`: it notes each
change (users and groups created, replaced or deleted, attributes old → new, membership
changes), and :meth:`RecordingDirectory.flush` writes them on the unit of work's connection,
so they commit or roll back with the change itself. :func:`run_unit` is one SCIM request's unit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, insert

from hostsync.scim.ports import Directory, GroupRef, Member, Page, Selection, Stored
from hostsync.scim.resources import Document
from hostsync.store.activity.changes import change_rows
from hostsync.store.admin_tables import activity
from hostsync.store.clock import now
from hostsync.store.redaction import redact_keys
from hostsync.store.sqlite.raw import run_prebuilt

if TYPE_CHECKING:
    from hostsync.store.database import Database

MAX_LISTED_MEMBERS = 100
T = TypeVar("T")
_INSERT_ACTIVITY = insert(activity)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asked for what: the client's User-Agent, the HTTP method and path, the actor."""

    method: str
    path: str
    client: str | None = None
    actor: str = "scim"


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
                    "client": client_text(self.context.client),
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


def client_text(client: str | None) -> str | None:
    """The client's User-Agent as stored: API keys cut to their prefix, 300 characters."""
    return None if client is None else redact_keys(client)[:300]


def run_unit(
    database: Database,
    tenant_id: str,
    context: RequestContext,
    work: Callable[[Directory], T],
    *,
    write: bool,
) -> T:
    """Run ``work`` on the tenant's directory as one unit of work; return its result.

    A writing unit goes through a :class:`RecordingDirectory` whose rows are written before
    the commit, so an exception rolls back the change and its activity rows alike.
    """
    with database.directory(tenant_id, write=write) as directory:
        if not write:
            return work(directory)
        recorder = RecordingDirectory(directory, directory.connection, tenant_id, context)
        result = work(recorder)
        recorder.flush()
        return result
