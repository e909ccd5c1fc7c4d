"""The engine's ports: what a source directory and a state store must provide.

A source yields one immutable :class:`SourceSnapshot` per cycle. State (links between source
and target objects, the watermark, staged deletions, quarantine) goes through
:class:`SyncState`; provisioning log entries through :class:`LogSink`. The file-backed
implementations live in :mod:`hostsync.engine.state`; a database one can implement the same
protocols later (STYLE.md: ``store/sync_state.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

DEFAULT_ACCESS_ROLE_ID = "00000000-0000-0000-0000-000000000000"
"""Entra's *Default Access* app role (docs/reference/entra-engine.md#default-access-role)."""


class Kind(StrEnum):
    """The two object types the engine provisions."""

    USER = "User"
    GROUP = "Group"


KIND_BY_NAME: dict[str, Kind] = {kind.value: kind for kind in Kind}
"""``Kind`` by its value: a dict lookup, where ``Kind(value)`` costs microseconds per call."""


@dataclass(frozen=True, slots=True)
class SourceUser:
    """A user read from the source: its id and attributes (Entra source attribute names)."""

    id: str
    attributes: Mapping[str, Any]
    deleted: bool = False
    """Soft-deleted in the source (Entra's recycle bin)."""

    @property
    def enabled(self) -> bool:
        """``accountEnabled`` (absent counts as enabled)."""
        value = self.attributes.get("accountEnabled", True)
        return value is not False and str(value).lower() != "false"


@dataclass(frozen=True, slots=True)
class SourceGroup:
    """A group read from the source: id, attributes and the ids of its direct members."""

    id: str
    attributes: Mapping[str, Any]
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AppRole:
    """An application role (Graph ``appRole``)."""

    id: str
    display_name: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """An app role assignment of a user or a group (Graph ``appRoleAssignment``)."""

    principal_id: str
    principal_type: Kind
    app_role_id: str = DEFAULT_ACCESS_ROLE_ID


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """Everything a source says in one read.

    ``assignments`` is None for sources that have no notion of assignment (an HR export):
    every object they list counts as assigned.
    """

    users: Mapping[str, SourceUser]
    groups: Mapping[str, SourceGroup] = field(default_factory=dict)
    app_roles: Mapping[str, AppRole] = field(default_factory=dict)
    assignments: tuple[Assignment, ...] | None = None


class Source(Protocol):
    """A source directory (Graph-shaped JSON, CSV; later LDAP or live Microsoft Graph)."""

    def read(self) -> SourceSnapshot:
        """Read the whole directory; raise ``SourceError`` when it cannot."""
        ...


@dataclass(slots=True)
class Link:
    """What the engine knows of one provisioned object (Entra's connector data store).

    ``exported`` holds the target values last confirmed on the target (flat: target path →
    value); an incremental cycle sends requests only where the mapped values differ from it.
    """

    kind: Kind
    source_id: str
    target_id: str
    display: str = ""
    """How logs name the object (``userPrincipalName`` or group ``displayName``)."""
    managed: bool = True
    """False once the object left scope and was disabled: later deletes are not sent."""
    exported: dict[str, Any] = field(default_factory=dict)
    manager: str | None = None
    """Source id of the manager last linked on the target."""
    members: list[str] = field(default_factory=list)
    """Source ids of the group members last confirmed on the target."""
    digest: str | None = None
    """Digest of the source attributes that ``exported`` and ``manager`` reflect in full; an
    incremental cycle skips the mapping and planning of a user whose digest is unchanged."""


@dataclass(slots=True)
class Quarantine:
    """The job's quarantine (Graph ``synchronizationQuarantine``)."""

    reason: str
    began: str
    next_attempt: str
    series_count: int = 1
    detail: str = ""
    series_began: str = ""
    """When the first quarantine of this unbroken series began (the 4-week clock)."""


@dataclass(slots=True)
class Escrow:
    """An object whose last attempt failed, retried with growing delays (Entra's escrow).

    ``fingerprint`` digests what the object should look like on the target when it failed: a
    source change alters it and the object is retried at once instead of waiting for
    ``next_attempt`` (an improvement on Entra, whose escrows wait regardless).
    """

    failures: int
    first_failed: str
    next_attempt: str
    fingerprint: str
    code: str = ""
    reason: str = ""


@dataclass(slots=True)
class JobState:
    """The whole persisted state of one job."""

    links: dict[str, Link] = field(default_factory=dict)
    watermark: str | None = None
    """Set when an initial cycle completes; None means the next cycle is initial."""
    config_digest: str | None = None
    """Digest of mappings and scope; a change forces a new initial cycle.

    See docs/reference/entra-engine.md#mapping-change-resync.
    """
    staged: list[str] = field(default_factory=list)
    """Keys of disables and deletes held back by the accidental-deletion threshold."""
    allow_deletes: bool = False
    """Set by ``sync allow-deletes``: the next cycle runs staged deletions whatever their count."""
    quarantine: Quarantine | None = None
    failed_cycles: int = 0
    cycles: int = 0
    last_cycle: dict[str, Any] | None = None
    current_cycle: dict[str, Any] | None = None
    escrows: dict[str, Escrow] = field(default_factory=dict)
    """Link keys of objects that failed, with their back-off."""
    disabled: str | None = None
    """Why the job is disabled (4 weeks in quarantine); ``sync restart`` enables it again."""

    @staticmethod
    def key(kind: Kind, source_id: str) -> str:
        """The link key of an object."""
        return f"{kind.value}:{source_id}"

    def link(self, kind: Kind, source_id: str) -> Link | None:
        """The link of an object, if any."""
        return self.links.get(self.key(kind, source_id))


class SyncState(Protocol):
    """Where a job's :class:`JobState` lives between cycles."""

    def load(self) -> JobState:
        """The saved state, or a fresh one."""
        ...

    def save(self, state: JobState) -> None:
        """Persist ``state`` atomically."""
        ...

    def clear(self) -> None:
        """Forget everything (links included)."""
        ...


class LogSink(Protocol):
    """Where provisioning log entries go (one per object per cycle)."""

    def append(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Append entries (JSON-serialisable mappings)."""
        ...

    def read(self) -> list[dict[str, Any]]:
        """Every entry kept, oldest first."""
        ...
