"""The pure planner: (source, links, target look-ups) → ordered actions with old → new diffs.

Three steps, all without I/O (docs/reference/entra-engine.md#cycle):

1. :func:`evaluate_source` imports every object, decides its scope (assignment, Default Access
   exclusion, scoping filters, ``accountEnabled``, soft delete) and evaluates its mappings.
2. :func:`lookups` lists the target reads a cycle needs: a match query for each in-scope object
   without a link, and (initial cycles only) a read of each linked object by id.
3. :func:`plan` turns all that into actions, in Entra's order: users, then manager references,
   then groups, then group memberships (docs/reference/entra-engine.md#cycle-order). Disables and
   deletes beyond the accidental-deletion threshold are staged instead
   (docs/reference/entra-engine.md#accidental-deletions).

Deprovisioning follows docs/reference/entra-engine.md#deprovisioning: unassigned or out of
scope → disable (unless ``skip_out_of_scope_deletions``), and the object is no longer managed;
disabled or soft-deleted in the source → disable; gone from the source after that (a hard
delete) → DELETE, or a disable on soft-delete-only targets. An unmanaged object that
disappears is forgotten silently.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from hostsync.engine import mappings
from hostsync.engine.errors import ExpressionError
from hostsync.engine.expressions import Context, Value
from hostsync.engine.jobs import Job
from hostsync.engine.mappings import ACTIVE_PATH, MANAGER_PATH, Mapped
from hostsync.engine.ports import (
    DEFAULT_ACCESS_ROLE_ID,
    JobState,
    Kind,
    Link,
    SourceSnapshot,
    SourceUser,
)
from hostsync.engine.scoping import ScopingFilter, in_scope
from hostsync.engine.wire import read_values, same


class Reason(StrEnum):
    """Why an object is (not) in scope; the values are Entra's skip reasons where one exists."""

    ENTITLED = "Entitled"
    UNASSIGNED = "NotEffectivelyEntitled"
    OUT_OF_SCOPE = "OutOfScope"
    DISABLED = "AccountDisabled"
    SOFT_DELETED = "SoftDeleted"
    HARD_DELETED = "HardDeleted"


_OUT_OF_SCOPE = {Reason.UNASSIGNED, Reason.OUT_OF_SCOPE}
ESCROWED = "Escrowed"
"""Skip reason of an object that failed earlier and waits for its next attempt."""


class AttributeChange(NamedTuple):
    """One modified property: target path, old value, new value (kopf ``DiffItem``)."""

    path: str
    old: Value
    new: Value


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One source object after import, scoping and mapping."""

    kind: Kind
    source_id: str
    display: str
    reason: Reason
    mapped: Mapped | None = None
    error: str | None = None
    match_keys: tuple[tuple[str, str], ...] = ()
    members: tuple[str, ...] = ()
    scoping: Mapping[str, str] = field(default_factory=dict)
    digest: str | None = None
    """Digest of the source attributes the mappings read (:func:`source_digest`)."""
    unchanged: bool = False
    """Linked, and its source attributes have the digest its link records: nothing to plan."""

    @property
    def entitled(self) -> bool:
        """Whether the object should exist and be active on the target."""
        return self.reason is Reason.ENTITLED

    @property
    def key(self) -> str:
        """Its link key."""
        return JobState.key(self.kind, self.source_id)


def fingerprint(item: Evaluated | None) -> str:
    """A digest of what an object should look like on the target (None: gone from the source).

    An escrowed object whose fingerprint changed is retried at once (see ``Escrow``).
    """
    if item is None:
        return "gone"
    mapped = item.mapped
    document = {
        "reason": item.reason.value,
        "error": item.error,
        "members": sorted(item.members),
        "values": dict(mapped.values) if mapped else None,
        "create": dict(mapped.create_values) if mapped else None,
        "references": dict(mapped.references) if mapped else None,
    }
    text = json.dumps(document, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def source_digest(attributes: Mapping[str, Any]) -> str | None:
    """A digest of what a user's mappings read (None: attributes that cannot be digested).

    Incremental cycles process only the objects that changed in the source since the last
    cycle, as Entra's do (docs/reference/entra-engine.md#cycle-incremental): a user whose digest
    matches its link's is neither mapped nor planned. A ``Now()`` or ``RandomString()`` mapping
    is therefore re-evaluated when the user changes, not every cycle.
    """
    try:
        data = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:
        return None
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def settled(item: Evaluated, link: Link | None) -> bool:
    """Whether ``link`` holds everything ``item`` maps to: its values and its manager."""
    if link is None or not link.managed or item.mapped is None or not item.entitled:
        return False
    manager = item.mapped.references.get(MANAGER_PATH)
    if link.manager != (str(manager) if manager is not None else None):
        return False
    return not _diff(item.mapped.values, link.exported)


def _unchanged(kind: Kind, source_id: str, display: str, link: Link, **extra: Any) -> Evaluated:
    references = {MANAGER_PATH: link.manager} if link.manager is not None else {}
    mapped = Mapped(link.exported, link.exported, references)
    return Evaluated(kind, source_id, display, Reason.ENTITLED, mapped, unchanged=True, **extra)


def _assignments(
    snapshot: SourceSnapshot, exclude_default: bool
) -> tuple[set[str] | None, set[str], dict[str, list[dict[str, Any]]]]:
    """Assigned users (None: no notion of assignment), assigned groups, and users' roles."""
    if snapshot.assignments is None:
        return None, set(snapshot.groups), {}
    users: set[str] = set()
    groups: set[str] = set()
    roles: dict[str, list[dict[str, Any]]] = {}
    values: dict[str, dict[str, Any]] = {}  # one value per role: `in held` compares by identity
    for assignment in snapshot.assignments:
        if exclude_default and assignment.app_role_id == DEFAULT_ACCESS_ROLE_ID:
            # Excluded from provisioning (docs/reference/entra-engine.md#default-access-role).
            continue
        role_value = values.get(assignment.app_role_id)
        if role_value is None:
            role = snapshot.app_roles.get(assignment.app_role_id)
            role_value = (
                {"id": role.id, "displayName": role.display_name, "value": role.value}
                if role
                else {"id": assignment.app_role_id, "displayName": None, "value": None}
            )
            values[assignment.app_role_id] = role_value
        if assignment.principal_type is Kind.USER:
            principals = [assignment.principal_id]
        else:
            groups.add(assignment.principal_id)
            group = snapshot.groups.get(assignment.principal_id)
            principals = list(group.members) if group else []  # direct members only
        for principal in principals:
            users.add(principal)
            held = roles.setdefault(principal, [])
            if role_value not in held:
                held.append(role_value)
    return users, groups, roles


def _user_reason(
    user: SourceUser, assigned: bool, filters: Sequence[ScopingFilter], attrs: Mapping[str, Any]
) -> Reason:
    if user.deleted:
        return Reason.SOFT_DELETED
    if not assigned:
        return Reason.UNASSIGNED
    if not in_scope(filters, attrs):
        return Reason.OUT_OF_SCOPE
    if not user.enabled:
        return Reason.DISABLED
    return Reason.ENTITLED


def _match_keys(
    all_mappings: Sequence[mappings.AttributeMapping], mapped: Mapped
) -> tuple[tuple[str, str], ...]:
    keys: list[tuple[str, str]] = []
    for mapping in mappings.matching(all_mappings):
        value = mapped.create_values.get(mapping.name)
        if isinstance(value, str) and value:
            keys.append((mapping.name, value))
    return tuple(keys)


def _map(
    kind: Kind,
    source_id: str,
    display: str,
    reason: Reason,
    attributes: Mapping[str, Any],
    all_mappings: Sequence[mappings.AttributeMapping],
    clock: Callable[[], datetime],
    rng: random.Random,
    **extra: Any,
) -> Evaluated:
    if reason is not Reason.ENTITLED:
        return Evaluated(kind, source_id, display, reason, **extra)
    context = Context(attributes, clock, rng)
    try:
        mapped = mappings.evaluate(all_mappings, context)
    except ExpressionError as exc:
        return Evaluated(kind, source_id, display, reason, error=str(exc), **extra)
    keys = _match_keys(all_mappings, mapped)
    return Evaluated(kind, source_id, display, reason, mapped, None, keys, **extra)


def evaluate_source(
    job: Job,
    snapshot: SourceSnapshot,
    *,
    clock: Callable[[], datetime],
    rng: random.Random,
    previous: JobState | None = None,
) -> dict[str, Evaluated]:
    """Import, scope and map every source object (steps Import, Scoping of Entra's log).

    With ``previous`` (incremental cycles), an entitled user whose source digest equals its
    link's, and which is not escrowed, is not mapped again: it comes back ``unchanged``.
    """
    config = job.config
    assigned_users, assigned_groups, roles = _assignments(
        snapshot, config.settings.exclude_default_access_role
    )
    everything = config.scope == "all"
    result: dict[str, Evaluated] = {}
    entitled_users: set[str] = set()
    for user in snapshot.users.values():
        attrs = dict(user.attributes)
        attrs["appRoleAssignments"] = roles.get(user.id, [])
        assigned = everything or assigned_users is None or user.id in assigned_users
        reason = _user_reason(user, assigned, job.user_filters, attrs)
        attrs["IsSoftDeleted"] = reason is not Reason.ENTITLED
        display = str(attrs.get("userPrincipalName") or user.id)
        scoping = {
            "IsActive": str(user.enabled and not user.deleted),
            "Assigned": str(assigned),
            "ScopeEvaluationResult": reason.value,
        }
        digest = source_digest(attrs) if reason is Reason.ENTITLED else None
        key = JobState.key(Kind.USER, user.id)
        link = previous.links.get(key) if previous is not None else None
        if (
            previous is not None
            and link is not None
            and digest is not None
            and link.digest == digest
            and link.managed
            and key not in previous.escrows
        ):
            evaluated = _unchanged(Kind.USER, user.id, display, link, scoping=scoping)
        else:
            evaluated = _map(
                Kind.USER,
                user.id,
                display,
                reason,
                attrs,
                job.user_mappings,
                clock,
                rng,
                scoping=scoping,
                digest=digest,
            )
        result[evaluated.key] = evaluated
        if evaluated.entitled:
            entitled_users.add(user.id)
    if not job.group_mappings:
        return result
    for group in snapshot.groups.values():
        assigned = everything or group.id in assigned_groups
        reason = Reason.UNASSIGNED
        if assigned:
            passes = in_scope(job.group_filters, group.attributes)
            reason = Reason.ENTITLED if passes else Reason.OUT_OF_SCOPE
        members = tuple(m for m in group.members if m in entitled_users)
        evaluated = _map(
            Kind.GROUP,
            group.id,
            str(group.attributes.get("displayName") or group.id),
            reason,
            group.attributes,
            job.group_mappings,
            clock,
            rng,
            members=members,
            scoping={"Assigned": str(assigned), "ScopeEvaluationResult": reason.value},
        )
        result[evaluated.key] = evaluated
    return result


# --------------------------------------------------------------------------- look-ups


@dataclass(frozen=True, slots=True)
class Lookup:
    """A target read the planner needs: by id (initial cycles), then by matching attributes."""

    kind: Kind
    source_id: str
    by_id: str | None
    matches: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        """Its link key."""
        return JobState.key(self.kind, self.source_id)


@dataclass(frozen=True, slots=True)
class TargetLookup:
    """What a :class:`Lookup` found.

    ``document`` is the one target object found (None: none); ``candidates`` counts the
    objects the deciding query returned (>1 is ``DuplicateTargetEntries``); ``anchor_lost``
    says the linked id answered 404 (Entra ``InvalidAnchor``).
    """

    document: Mapping[str, Any] | None
    candidates: int = 0
    matched_by: str | None = None
    anchor_lost: bool = False
    error: str | None = None


def lookups(
    evaluated: Mapping[str, Evaluated],
    state: JobState,
    *,
    initial: bool,
    deferred: frozenset[str] = frozenset(),
) -> list[Lookup]:
    """The target reads this cycle needs, users first (none for escrowed ``deferred`` keys)."""
    needed: list[Lookup] = []
    for item in evaluated.values():
        if not item.entitled or item.mapped is None or item.key in deferred:
            continue
        link = state.links.get(item.key)
        if link is None:
            if item.match_keys:
                needed.append(Lookup(item.kind, item.source_id, None, item.match_keys))
        elif initial:
            needed.append(Lookup(item.kind, item.source_id, link.target_id, item.match_keys))
    needed.sort(key=lambda lookup: lookup.kind is Kind.GROUP)
    return needed


# --------------------------------------------------------------------------- actions


class Phase(StrEnum):
    """The order a cycle runs its actions in (docs/reference/entra-engine.md#cycle-order)."""

    USERS = "users"
    REFERENCES = "references"
    GROUPS = "groups"
    MEMBERSHIPS = "memberships"


@dataclass(frozen=True, slots=True)
class Create:
    """POST the object; link the id the target returns."""

    kind: Kind
    source_id: str
    display: str
    values: Mapping[str, Value]
    changes: tuple[AttributeChange, ...]
    match_keys: tuple[tuple[str, str], ...] = ()
    manager: str | None = None
    """The manager's source id: sent in the POST when the manager is already on the target."""
    action: str = "create"


@dataclass(frozen=True, slots=True)
class Update:
    """PATCH the changed attributes (none: only link a matched object)."""

    kind: Kind
    source_id: str
    display: str
    target_id: str
    changes: tuple[AttributeChange, ...]
    exported: Mapping[str, Value]
    matched_by: str | None = None
    action: str = "update"


@dataclass(frozen=True, slots=True)
class Disable:
    """PATCH ``active=false``; ``unmanage`` when the object left scope."""

    kind: Kind
    source_id: str
    display: str
    target_id: str
    reason: Reason
    unmanage: bool
    changes: tuple[AttributeChange, ...] = ()
    action: str = "disable"


@dataclass(frozen=True, slots=True)
class Delete:
    """DELETE the object and drop its link."""

    kind: Kind
    source_id: str
    display: str
    target_id: str
    reason: Reason
    action: str = "delete"


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to send; ``quiet`` skips are not logged, ``forget`` drops the link."""

    kind: Kind
    source_id: str
    display: str
    reason: str
    quiet: bool = False
    forget: bool = False
    unmanage: bool = False
    action: str = "other"


@dataclass(frozen=True, slots=True)
class Failure:
    """The object cannot be processed this cycle (expression error, duplicate matches)."""

    kind: Kind
    source_id: str
    display: str
    code: str
    reason: str
    action: str = "other"


@dataclass(frozen=True, slots=True)
class SetManager:
    """Link a user's manager once both exist on the target (a reference update)."""

    source_id: str
    display: str
    manager_source_id: str
    old: str | None
    kind: Kind = Kind.USER
    action: str = "update"


@dataclass(frozen=True, slots=True)
class UpdateMembers:
    """Add and remove group members (source ids; the runner resolves target ids)."""

    source_id: str
    display: str
    add: tuple[str, ...]
    remove: tuple[str, ...]
    kind: Kind = Kind.GROUP
    action: str = "update"


Action = Create | Update | Disable | Delete | Skip | Failure | SetManager | UpdateMembers


@dataclass(frozen=True, slots=True)
class Policy:
    """The settings that decide actions."""

    skip_out_of_scope_deletions: bool = False
    hard_deletes: bool = True
    deletion_threshold: int = 0
    allow_deletes: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """A cycle's actions by phase, and the disables/deletes staged by the threshold."""

    phases: Mapping[Phase, tuple[Action, ...]]
    staged: tuple[Disable | Delete, ...] = ()

    def actions(self) -> list[Action]:
        """Every action, in execution order."""
        return [action for phase in Phase for action in self.phases.get(phase, ())]

    def deletions(self) -> int:
        """Disables and deletes planned (staged ones included)."""
        planned = sum(isinstance(a, Disable | Delete) for a in self.actions())
        return planned + len(self.staged)


def _diff(
    desired: Mapping[str, Value], baseline: Mapping[str, Value]
) -> tuple[AttributeChange, ...]:
    return tuple(
        AttributeChange(path, baseline.get(path), value)
        for path, value in desired.items()
        if not same(baseline.get(path), value)
    )


def _deprovision(
    item: Evaluated | None,
    link: Link,
    display: str,
    policy: Policy,
    has_active: bool,
) -> Action | None:
    reason = item.reason if item is not None else Reason.HARD_DELETED
    kind = link.kind
    disabled = link.exported.get(ACTIVE_PATH) is False
    if reason is Reason.HARD_DELETED:
        if not link.managed:
            return Skip(kind, link.source_id, display, "NotManaged", quiet=True, forget=True)
        if policy.hard_deletes:
            return Delete(kind, link.source_id, display, link.target_id, reason)
        if kind is Kind.USER and has_active and not disabled:
            return Disable(kind, link.source_id, display, link.target_id, reason, True, _off())
        return Skip(kind, link.source_id, display, "HardDeletesOff", forget=True)
    if not link.managed:
        # Left scope earlier: no longer managed (docs/reference/entra-engine.md#cycle-unmanaged).
        return None
    if reason in _OUT_OF_SCOPE and policy.skip_out_of_scope_deletions:
        return Skip(kind, link.source_id, display, "SkipOutOfScopeDeletions")
    if kind is Kind.GROUP:
        return Delete(kind, link.source_id, display, link.target_id, reason)
    unmanage = reason in _OUT_OF_SCOPE
    if not has_active:
        return Skip(kind, link.source_id, display, "NoActiveMapping", unmanage=unmanage)
    if disabled:
        return Skip(kind, link.source_id, display, reason.value, quiet=True, unmanage=unmanage)
    return Disable(kind, link.source_id, display, link.target_id, reason, unmanage, _off())


def _off() -> tuple[AttributeChange, ...]:
    return (AttributeChange(ACTIVE_PATH, True, False),)


def _provision(
    item: Evaluated,
    link: Link | None,
    found: TargetLookup | None,
    *,
    initial: bool,
) -> Action:
    mapped = item.mapped
    assert mapped is not None  # guaranteed by the caller  # noqa: S101
    if found is not None and found.error is not None:
        return Failure(item.kind, item.source_id, item.display, "LookupFailed", found.error)
    if found is not None and found.candidates > 1:
        return Failure(
            item.kind,
            item.source_id,
            item.display,
            "DuplicateTargetEntries",
            f"{found.candidates} target objects match {found.matched_by}",
        )
    if link is not None and (found is None or found.document is not None):
        baseline = (
            read_values(found.document, mapped.values)
            if found is not None and found.document is not None
            else link.exported
        )
        changes = _diff(mapped.values, baseline)
        if not changes:
            return Skip(item.kind, item.source_id, item.display, "RedundantExport", not initial)
        return Update(
            item.kind, item.source_id, item.display, link.target_id, changes, mapped.values
        )
    if found is not None and found.document is not None:
        target_id = str(found.document.get("id", ""))
        baseline = read_values(found.document, mapped.values)
        changes = _diff(mapped.values, baseline)
        exported = dict(mapped.values)
        return Update(
            item.kind,
            item.source_id,
            item.display,
            target_id,
            changes,
            exported,
            found.matched_by,
        )
    if not item.match_keys:
        return Skip(item.kind, item.source_id, item.display, "ImportSkipped")
    changes = tuple(AttributeChange(p, None, v) for p, v in mapped.create_values.items())
    manager = mapped.references.get(MANAGER_PATH) if item.kind is Kind.USER else None
    return Create(
        item.kind,
        item.source_id,
        item.display,
        mapped.create_values,
        changes,
        item.match_keys,
        str(manager) if manager is not None else None,
    )


def _object_actions(
    kind: Kind,
    evaluated: Mapping[str, Evaluated],
    state: JobState,
    targets: Mapping[str, TargetLookup],
    policy: Policy,
    *,
    initial: bool,
    has_active: bool,
    deferred: frozenset[str],
) -> list[Action]:
    actions: list[Action] = []
    for item in evaluated.values():
        if item.kind is not kind:
            continue
        if item.key in deferred:
            actions.append(Skip(kind, item.source_id, item.display, ESCROWED, quiet=True))
            continue
        if item.unchanged:
            continue  # linked, and unchanged in the source since its values were exported
        link = state.links.get(item.key)
        found = targets.get(item.key)
        if found is not None and found.anchor_lost:
            link = None
        if not item.entitled:
            if link is not None:
                action = _deprovision(item, link, item.display, policy, has_active)
                if action is not None:
                    actions.append(action)
            else:
                actions.append(Skip(kind, item.source_id, item.display, item.reason, not initial))
            continue
        if item.error is not None or item.mapped is None:
            message = item.error or "no values"
            actions.append(Failure(kind, item.source_id, item.display, "ExpressionError", message))
            continue
        actions.append(_provision(item, link, found, initial=initial))
    for key, link in state.links.items():
        if link.kind is kind and key not in evaluated and key not in deferred:
            action = _deprovision(None, link, link.display or link.source_id, policy, has_active)
            if action is not None:
                actions.append(action)
    return actions


def _references(
    evaluated: Mapping[str, Evaluated], state: JobState, users: Sequence[Action]
) -> list[Action]:
    working = {
        a.source_id
        for a in users
        if isinstance(a, Create | Update) or (isinstance(a, Skip) and a.reason != ESCROWED)
    }
    actions: list[Action] = []
    for item in evaluated.values():
        if item.kind is not Kind.USER or item.mapped is None or item.source_id not in working:
            continue
        manager = item.mapped.references.get(MANAGER_PATH)
        if manager is None:
            continue
        link = state.links.get(item.key)
        old = link.manager if link is not None else None
        if str(manager) != old:
            actions.append(SetManager(item.source_id, item.display, str(manager), old))
    return actions


def waves(actions: Sequence[Action]) -> list[list[Action]]:
    """The users phase in waves: each user created after the manager this cycle creates.

    A user's POST can carry its manager only once the manager exists on the target, so wave 0
    holds every action except creates whose manager is also created this cycle; wave n + 1
    holds the creates whose manager is in wave n (topological order of the manager chain). A
    manager cycle (a → b → a) is cut where it is found: that create goes without its manager,
    and the reference phase PATCHes it afterwards.
    """
    creates = {a.source_id: a for a in actions if isinstance(a, Create) and a.kind is Kind.USER}
    depth: dict[str, int] = {}
    for source_id in creates:
        chain: list[str] = []
        current: str | None = source_id
        while current is not None and current in creates and current not in depth:
            if current in chain:  # a cycle: cut it here
                break
            chain.append(current)
            current = creates[current].manager
        level = depth.get(current, -1) if current is not None else -1
        for member in reversed(chain):
            level += 1
            depth[member] = level
    result: list[list[Action]] = []
    for action in actions:
        level = depth.get(action.source_id, 0) if isinstance(action, Create) else 0
        while len(result) <= level:
            result.append([])
        result[level].append(action)
    return result


def _memberships(
    evaluated: Mapping[str, Evaluated],
    state: JobState,
    groups: Sequence[Action],
    deferred: frozenset[str],
) -> list[Action]:
    fresh = {a.source_id for a in groups if isinstance(a, Create | Update) and a.kind is Kind.GROUP}
    actions: list[Action] = []
    for item in evaluated.values():
        if item.kind is not Kind.GROUP or not item.entitled or item.mapped is None:
            continue
        if item.key in deferred:
            continue
        link = state.links.get(item.key)
        if link is None and item.source_id not in fresh:
            continue
        known = set(link.members) if link is not None else set()
        desired = set(item.members)
        add = tuple(sorted(desired - known))
        remove = tuple(sorted(known - desired))
        if add or remove:
            actions.append(UpdateMembers(item.source_id, item.display, add, remove))
    return actions


def plan(
    evaluated: Mapping[str, Evaluated],
    state: JobState,
    targets: Mapping[str, TargetLookup],
    policy: Policy,
    *,
    initial: bool,
    has_active_mapping: bool = True,
    deferred: frozenset[str] = frozenset(),
) -> Plan:
    """Every action of one cycle, by phase; excess disables/deletes are staged.

    See docs/reference/entra-engine.md#accidental-deletions.

    Objects whose keys are in ``deferred`` (escrowed, waiting for their next attempt) get a
    quiet ``Skip`` and nothing else: no look-up, no reference or membership change.
    """
    users = _object_actions(
        Kind.USER,
        evaluated,
        state,
        targets,
        policy,
        initial=initial,
        has_active=has_active_mapping,
        deferred=deferred,
    )
    groups = _object_actions(
        Kind.GROUP,
        evaluated,
        state,
        targets,
        policy,
        initial=initial,
        has_active=False,
        deferred=deferred,
    )
    phases: dict[Phase, tuple[Action, ...]] = {
        Phase.USERS: tuple(users),
        Phase.REFERENCES: tuple(_references(evaluated, state, users)),
        Phase.GROUPS: tuple(groups),
        Phase.MEMBERSHIPS: tuple(_memberships(evaluated, state, groups, deferred)),
    }
    removals = [a for a in users + groups if isinstance(a, Disable | Delete)]
    threshold = policy.deletion_threshold
    if threshold and len(removals) > threshold and not policy.allow_deletes:
        held = set(map(id, removals))
        phases = {
            phase: tuple(a for a in actions if id(a) not in held)
            for phase, actions in phases.items()
        }
        return Plan(phases, tuple(removals))
    return Plan(phases)
