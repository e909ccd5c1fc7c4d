"""The store port: what the SCIM service needs from a durable directory of one tenant.

A :class:`Directory` is a unit of work over one tenant's users and groups: every method runs in
the same transaction, which the caller commits or rolls back. Filters arrive already parsed;
the store compiles them to its own query language and never widens a result by dropping a
clause it cannot compile (it raises :class:`~hostsync.scim.errors.InvalidFilterError`).

Documents handed in are canonical (:mod:`hostsync.scim.resources`); documents handed out are
copies, so changing them never changes the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import orjson

from hostsync.scim.errors import InvalidValueError
from hostsync.scim.filters import Filter
from hostsync.scim.paths import AttrPath
from hostsync.scim.resources import Document
from hostsync.scim.schema import ResourceType


class SortOrder(StrEnum):
    """RFC 7644 §3.4.2.3 ``sortOrder``."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


class Stored:
    """A resource as stored: its server-assigned id, canonical document and metadata.

    A store may hand the document over as the canonical JSON text it keeps (``json``) instead
    of a dict: it is decoded on the first use of :attr:`document`, so a page rendered straight
    from the text (:mod:`hostsync.scim.encoding`) never builds the dicts. Each decode gives the
    caller its own copy, which it may change. Likewise the two moments may come as ISO 8601
    text, parsed only when asked for.
    """

    __slots__ = ("_created", "_document", "_json", "_modified", "id", "version")

    def __init__(
        self,
        id: str,
        document: Document | None,
        created: datetime | str,
        last_modified: datetime | str,
        version: int,
        *,
        json: str | None = None,
    ) -> None:
        if document is None and json is None:
            raise ValueError("a Stored needs its document or the document's JSON text")
        self.id = id
        self._document = document
        self._json = json
        self._created = created
        self._modified = last_modified
        self.version = version

    @property
    def created(self) -> datetime:
        """When the resource was created (UTC)."""
        if isinstance(self._created, str):
            self._created = datetime.fromisoformat(self._created)
        return self._created

    @property
    def last_modified(self) -> datetime:
        """When the resource last changed (UTC)."""
        if isinstance(self._modified, str):
            self._modified = datetime.fromisoformat(self._modified)
        return self._modified

    @property
    def moments(self) -> tuple[datetime | str, datetime | str]:
        """``created`` and ``last_modified`` as the store gave them.

        Datetimes, or ISO 8601 texts in UTC (``YYYY-MM-DD HH:MM:SS.ffffff``) that a page
        formats without parsing.
        """
        return self._created, self._modified

    @property
    def document(self) -> Document:
        """The canonical document (decoded from the stored text on first use)."""
        if self._document is None:
            self._document = orjson.loads(self._json)  # type: ignore[arg-type]
        return self._document

    @property
    def json(self) -> str | None:
        """The document's JSON text as stored, while :attr:`document` has not been handed out.

        Once the dict exists its holder may have changed it, so the text no longer speaks for
        it and this is None.
        """
        return self._json if self._document is None else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stored):
            return NotImplemented
        return (
            self.id == other.id
            and self.version == other.version
            and self.created == other.created
            and self.last_modified == other.last_modified
            and self.document == other.document
        )

    __hash__ = None  # type: ignore[assignment]  # mutable document: not hashable

    def __repr__(self) -> str:
        return f"Stored(id={self.id!r}, version={self.version}, document={self.document!r})"


_NAMED_MAX = 5  # ids an UnknownMembersError names; the rest are counted
_ID_SHOWN_MAX = 64  # characters of an id it shows (a stored id has 32)


def _shown(member_id: str) -> str:
    return member_id if len(member_id) <= _ID_SHOWN_MAX else member_id[:_ID_SHOWN_MAX] + "…"


class UnknownMembersError(InvalidValueError):
    """Member ids that name no live user or group of the caller's tenant (400 invalidValue).

    One error for every reason an id is not a member candidate (it exists nowhere, belongs to
    another tenant, or was deleted): its detail depends only on the ids the client sent, so
    no client can tell another tenant's id from one that does not exist by the answer.
    """

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        named = ", ".join(f"'{_shown(member_id)}'" for member_id in self.ids[:_NAMED_MAX])
        more = len(self.ids) - _NAMED_MAX
        if len(self.ids) == 1:
            detail = f"Member {named} is not a user or group of this tenant"
        else:
            detail = f"Members {named} are not users or groups of this tenant"
            if more > 0:
                detail = f"Members {named} and {more} more are not users or groups of this tenant"
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class Member:
    """One group member: the member's id, its resource type and its display name."""

    value: str
    type: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A group a user belongs to (the user's read-only ``groups`` attribute)."""

    value: str
    display: str


@dataclass(frozen=True, slots=True)
class Selection:
    """Which resources a list returns: filter, order and the 1-based window."""

    filter: Filter | None = None
    sort_by: AttrPath | None = None
    sort_order: SortOrder = SortOrder.ASCENDING
    start_index: int = 1
    count: int = 100
    resource_type: ResourceType | None = None
    """What the filter's and sort's paths resolve against: the tenant's own (with its
    declared extensions, hostsync.scim.extensions); None: the built-in one."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: the total matching, and the resources in the window.

    A page of groups also gives each group's member count (``sizes``, by group id), which
    bounds how many members the page renders (:meth:`ScimService.group_documents`).
    """

    total: int
    resources: Sequence[Stored]
    sizes: Mapping[str, int] = field(default_factory=dict)


class Directory(Protocol):
    """One tenant's users and groups. Deleted resources are invisible to every method."""

    def savepoint(self) -> AbstractContextManager[object]:
        """A nested transaction: what runs inside is undone if the block raises."""
        ...

    # -- users ---------------------------------------------------------------------------
    def create_user(self, document: Document) -> Stored:
        """Insert a user; raise UniquenessError if its userName is taken (case-insensitively)."""
        ...

    def get_user(self, user_id: str) -> Stored | None:
        """Return the user, or None if it does not exist for this tenant or is deleted."""
        ...

    def replace_user(self, user_id: str, document: Document, *, version: int) -> Stored:
        """Store a new document for the user, whose current version must be ``version``.

        Raises UniquenessError for a taken userName, NotFoundError if the user is gone and
        PreconditionFailedError if another writer changed it since ``version`` was read.
        """
        ...

    def delete_user(self, user_id: str) -> bool:
        """Soft-delete the user (its record is kept); return False if there was none."""
        ...

    def list_users(self, selection: Selection) -> Page:
        """Return the users matching ``selection`` (inactive users included)."""
        ...

    def groups_of(self, user_ids: Sequence[str]) -> dict[str, list[GroupRef]]:
        """Return, for each given user id, the groups it is a direct member of."""
        ...

    # -- groups --------------------------------------------------------------------------
    def create_group(
        self,
        document: Document,
        members: Sequence[str],
        displays: Mapping[str, str] | None = None,
    ) -> Stored:
        """Insert a group with the given member ids; raise UniquenessError for a taken name.

        The members obey :meth:`add_members`; an unknown one fails the whole call.
        """
        ...

    def get_group(self, group_id: str) -> Stored | None:
        """Return the group (without members), or None."""
        ...

    def replace_group(self, group_id: str, document: Document, *, version: int) -> Stored:
        """Store a new document for the group; errors as for :meth:`replace_user`."""
        ...

    def delete_group(self, group_id: str) -> bool:
        """Soft-delete the group and drop its memberships; return False if there was none."""
        ...

    def list_groups(self, selection: Selection) -> Page:
        """Return the groups matching ``selection``."""
        ...

    def members_of(self, group_ids: Sequence[str]) -> dict[str, list[Member]]:
        """Return the members of each given group, ordered by member id."""
        ...

    def has_more_members_than(self, group_id: str, limit: int) -> bool:
        """Whether the group has more than ``limit`` members; costs O(1) (a kept count)."""
        ...

    def add_members(
        self,
        group_id: str,
        member_ids: Sequence[str],
        displays: Mapping[str, str] | None = None,
    ) -> None:
        """Add members; ids already present are ignored; ``displays`` are kept as sent.

        Every id must name a live (not deleted) user or group of this tenant; otherwise
        :class:`UnknownMembersError` names the ids that do not, and nothing is added. The
        check and the members' types come from one lookup per batch of ids. A member is then
        stored with the type it has (``User`` or ``Group``), whatever the client said. A group
        cannot be its own member (InvalidValueError). A member that is deleted later leaves
        every group (:meth:`delete_user`, :meth:`delete_group`).
        """
        ...

    def remove_members(self, group_id: str, member_ids: Sequence[str]) -> None:
        """Remove members; ids not present are ignored."""
        ...

    def clear_members(self, group_id: str) -> None:
        """Remove every member of the group."""
        ...

    def touch_group(self, group_id: str, *, version: int) -> Stored:
        """Bump the group's version and lastModified after a membership change."""
        ...
