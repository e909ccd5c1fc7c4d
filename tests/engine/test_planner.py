"""The pure planner: scope, matching precedence, lifecycle actions, phases, threshold."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from hostsync.engine import planner
from hostsync.engine.jobs import Job, parse_job
from hostsync.engine.mappings import Mapped
from hostsync.engine.planner import (
    Create,
    Delete,
    Disable,
    Evaluated,
    Failure,
    Phase,
    Policy,
    Reason,
    SetManager,
    Skip,
    TargetLookup,
    Update,
    UpdateMembers,
    evaluate_source,
    lookups,
    plan,
)
from hostsync.engine.ports import (
    Assignment,
    JobState,
    Kind,
    Link,
    SourceGroup,
    SourceSnapshot,
    SourceUser,
)

JOB = """scope = "assigned"
[target]
tenant_url = "http://x/scim"
secret_token = "t"
[source]
type = "graph-json"
path = "d.json"
"""
ROLE = "r-host"


def _job(extra: str = "") -> Job:
    return parse_job(JOB + extra, Path("/j/job.toml"))


def _user(user_id: str, **attributes: object) -> SourceUser:
    deleted = bool(attributes.pop("deleted", False))
    base = {"userPrincipalName": f"{user_id}@contoso.com", "mailNickname": user_id}
    return SourceUser(user_id, {**base, **attributes}, deleted)


def _snapshot(
    *users: SourceUser, groups: tuple[SourceGroup, ...] = (), assigned: tuple[str, ...] = ()
) -> SourceSnapshot:
    assignments = tuple(
        Assignment(p, Kind.GROUP if p.startswith("g") else Kind.USER, ROLE) for p in assigned
    )
    return SourceSnapshot({u.id: u for u in users}, {g.id: g for g in groups}, {}, assignments)


def _evaluate(job: Job, snapshot: SourceSnapshot):  # type: ignore[no-untyped-def]
    return evaluate_source(
        job, snapshot, clock=lambda: datetime(2025, 1, 1, tzinfo=UTC), rng=random.Random(1)
    )


def _link(user_id: str, target: str, **exported: object) -> Link:
    values = {"userName": f"{user_id}@contoso.com", "active": True, "externalId": user_id}
    return Link(
        Kind.USER, user_id, target, f"{user_id}@contoso.com", exported={**values, **exported}
    )


def test_new_user_without_match_is_created_with_old_none() -> None:
    """An assigned user with no target match becomes a Create listing every value."""
    job = _job()
    evaluated = _evaluate(job, _snapshot(_user("ana", displayName="Ana"), assigned=("ana",)))
    state = JobState()
    [lookup] = lookups(evaluated, state, initial=True)
    assert lookup.matches == (("userName", "ana@contoso.com"),)
    result = plan(evaluated, state, {lookup.key: TargetLookup(None)}, Policy(), initial=True)
    [create] = result.phases[Phase.USERS]
    assert isinstance(create, Create)
    assert ("displayName", None, "Ana") in create.changes
    assert create.values["active"] is True


def test_matched_user_is_updated_only_where_it_differs() -> None:
    """A match links the target id and diffs against the target document (old → new)."""
    job = _job()
    evaluated = _evaluate(job, _snapshot(_user("ana", displayName="Ana"), assigned=("ana",)))
    document = {
        "id": "t1",
        "userName": "ana@contoso.com",
        "active": True,
        "displayName": "Old",
        "externalId": "ana",
    }
    found = TargetLookup(document, 1, "userName")
    result = plan(evaluated, JobState(), {"User:ana": found}, Policy(), initial=True)
    [update] = result.phases[Phase.USERS]
    assert isinstance(update, Update)
    assert (update.target_id, update.changes) == ("t1", (("displayName", "Old", "Ana"),))


def test_matching_precedence_is_ordered_and_duplicates_fail() -> None:
    """Matching attributes are tried by precedence; several candidates fail the object."""
    job = _job("[[users.mappings]]\ntarget = 'externalId'\nsource = 'mailNickname'\nmatch = 2\n")
    evaluated = _evaluate(job, _snapshot(_user("ana"), assigned=("ana",)))
    [lookup] = lookups(evaluated, JobState(), initial=True)
    assert [path for path, _ in lookup.matches] == ["userName", "externalId"]
    result = plan(
        evaluated,
        JobState(),
        {"User:ana": TargetLookup(None, 2, "userName")},
        Policy(),
        initial=True,
    )
    [failure] = result.phases[Phase.USERS]
    assert isinstance(failure, Failure) and failure.code == "DuplicateTargetEntries"


def test_lifecycle_events_become_the_right_actions() -> None:
    """Unassigned, disabled, soft-deleted and hard-deleted users map to Entra's actions."""
    job = _job()
    users = (
        _user("una"),
        _user("dis", accountEnabled=False),
        _user("sof", deleted=True),
        _user("ok"),
    )
    state = JobState(
        links={
            "User:una": _link("una", "t-una"),
            "User:dis": _link("dis", "t-dis"),
            "User:sof": _link("sof", "t-sof"),
            "User:hard": _link("hard", "t-hard", active=False),
            "User:gone": Link(Kind.USER, "gone", "t-gone", managed=False),
            "User:ok": _link("ok", "t-ok"),
        }
    )
    evaluated = _evaluate(job, _snapshot(*users, assigned=("dis", "sof", "ok")))
    result = plan(evaluated, state, {}, Policy(), initial=False)
    by_id = {a.source_id: a for a in result.phases[Phase.USERS]}
    assert isinstance(by_id["una"], Disable) and by_id["una"].unmanage
    assert isinstance(by_id["dis"], Disable) and not by_id["dis"].unmanage
    assert isinstance(by_id["sof"], Disable)
    assert isinstance(by_id["hard"], Delete)
    assert isinstance(by_id["gone"], Skip) and by_id["gone"].forget and by_id["gone"].quiet
    assert isinstance(by_id["ok"], Skip) and by_id["ok"].reason == "RedundantExport"


def test_skip_out_of_scope_deletions_keeps_unassigned_users() -> None:
    """With SkipOutOfScopeDeletions an unassigned user is logged, not disabled."""
    job = _job()
    state = JobState(links={"User:una": _link("una", "t-una")})
    evaluated = _evaluate(job, _snapshot(_user("una")))
    result = plan(evaluated, state, {}, Policy(skip_out_of_scope_deletions=True), initial=False)
    [skip] = result.phases[Phase.USERS]
    assert isinstance(skip, Skip) and skip.reason == "SkipOutOfScopeDeletions"


def test_threshold_stages_every_removal_of_the_cycle() -> None:
    """More disables than the threshold: all of them are staged, nothing else is held."""
    job = _job()
    state = JobState(links={f"User:u{i}": _link(f"u{i}", f"t{i}") for i in range(3)})
    evaluated = _evaluate(
        job, _snapshot(*(_user(f"u{i}") for i in range(3)), _user("new"), assigned=("new",))
    )
    targets = {"User:new": TargetLookup(None)}
    held = plan(evaluated, state, targets, Policy(deletion_threshold=2), initial=False)
    assert len(held.staged) == 3
    assert [type(a) for a in held.phases[Phase.USERS]] == [Create]
    allowed = plan(
        evaluated, state, targets, Policy(deletion_threshold=2, allow_deletes=True), initial=False
    )
    assert allowed.staged == ()
    assert held.deletions() == allowed.deletions() == 3


def test_manager_and_members_come_after_their_objects() -> None:
    """Manager links are a reference phase; group members are source-id set differences."""
    job = _job()
    users = (_user("ana", manager="bob"), _user("bob"), _user("cy"))
    group = SourceGroup("g1", {"displayName": "Hosts", "objectId": "g1"}, ("ana", "cy"))
    evaluated = _evaluate(job, _snapshot(*users, groups=(group,), assigned=("g1", "bob")))
    state = JobState(
        links={
            "Group:g1": Link(
                Kind.GROUP,
                "g1",
                "tg",
                exported={"displayName": "Hosts", "externalId": "g1"},
                members=["bob", "cy"],
            ),
        }
    )
    targets = {key: TargetLookup(None) for key in ("User:ana", "User:bob", "User:cy")}
    result = plan(evaluated, state, targets, Policy(), initial=False)
    [manager] = result.phases[Phase.REFERENCES]
    assert isinstance(manager, SetManager) and manager.manager_source_id == "bob"
    [members] = result.phases[Phase.MEMBERSHIPS]
    assert isinstance(members, UpdateMembers)
    assert (members.add, members.remove) == (("ana",), ("bob",))
    assert list(Phase) == [Phase.USERS, Phase.REFERENCES, Phase.GROUPS, Phase.MEMBERSHIPS]


def test_expression_failure_fails_only_that_object() -> None:
    """An evaluation error becomes a Failure naming the mapping; other users proceed."""
    job = _job("[[users.mappings]]\ntarget = 'title'\nexpression = 'DateAdd(\"d\", 1, [hired])'\n")
    users = (_user("ana", hired="not a date"), _user("bob"))
    evaluated = _evaluate(job, _snapshot(*users, assigned=("ana", "bob")))
    targets = {key: TargetLookup(None) for key in ("User:ana", "User:bob")}
    result = plan(evaluated, JobState(), targets, Policy(), initial=True)
    kinds = {a.source_id: a for a in result.phases[Phase.USERS]}
    assert isinstance(kinds["ana"], Failure) and "mapping 'title'" in kinds["ana"].reason
    assert isinstance(kinds["bob"], Create)


def test_deferred_objects_get_no_lookup_and_a_quiet_skip() -> None:
    """An escrowed key waiting for its next attempt is neither looked up nor acted on."""
    evaluated = {
        "User:u1": Evaluated(
            Kind.USER,
            "u1",
            "u1@x",
            Reason.ENTITLED,
            Mapped({"userName": "u1@x"}, {"userName": "u1@x"}),
            None,
            (("userName", "u1@x"),),
        )
    }
    state = JobState()
    deferred = frozenset({"User:u1"})
    assert planner.lookups(evaluated, state, initial=True, deferred=deferred) == []
    assert len(planner.lookups(evaluated, state, initial=True)) == 1
    result = planner.plan(evaluated, state, {}, Policy(), initial=True, deferred=deferred)
    [action] = result.actions()
    assert isinstance(action, Skip) and action.quiet and action.reason == planner.ESCROWED


def test_fingerprint_follows_values_and_scope() -> None:
    """The escrow fingerprint changes with a mapped value or the scope reason, not otherwise."""

    def item(title: str, reason: Reason = Reason.ENTITLED) -> Evaluated:
        values = {"userName": "u1@x", "title": title}
        return Evaluated(Kind.USER, "u1", "u1@x", reason, Mapped(values, values))

    assert planner.fingerprint(item("a")) == planner.fingerprint(item("a"))
    assert planner.fingerprint(item("a")) != planner.fingerprint(item("b"))
    assert planner.fingerprint(item("a")) != planner.fingerprint(item("a", Reason.UNASSIGNED))
    assert planner.fingerprint(None) == "gone"
