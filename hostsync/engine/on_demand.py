"""Provision one user now, as Entra's *Provision on demand* does.

See docs/reference/entra-engine.md#on-demand.

The steps are Entra's: (1) Test connection (shown only when it fails), (2) Import user,
(3) Determine scope (active, assigned, scope "all", each scoping filter), (4) Match user (by the
linked id, else each matching attribute in precedence), (5) Perform action (create, update,
disable, skip) with the exported attributes. The user's link, escrow and one log entry are
recorded like a cycle's; the watermark and the other objects are left alone, and group
memberships are not touched (Entra provisions a group on demand separately).

Better than Entra: a user disabled or soft-deleted in the source is disabled on demand too, and
the manager reference is set when the manager is already on the target.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hostsync.engine import escrows, planner
from hostsync.engine.clock import format_time
from hostsync.engine.codes import explain
from hostsync.engine.errors import SourceError, StopSync
from hostsync.engine.planner import Lookup, Phase, TargetLookup
from hostsync.engine.planning import has_active_mapping, on_demand_policy
from hostsync.engine.ports import JobState, Kind, SourceSnapshot
from hostsync.engine.reports import Outcome, log_entry, shown
from hostsync.engine.runner import Runner


@dataclass(slots=True)
class Step:
    """One step of an on-demand run."""

    name: str
    status: str
    """``success``, ``skipped`` or ``failure``."""
    description: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OnDemandResult:
    """The steps shown to the operator and the log entries recorded."""

    user: str
    steps: list[Step] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``failure`` if any step failed, else ``success``."""
        return "failure" if any(s.status == "failure" for s in self.steps) else "success"


def _find(snapshot: SourceSnapshot, wanted: str) -> str | None:
    if wanted in snapshot.users:
        return wanted
    folded = wanted.casefold()
    for user in snapshot.users.values():
        for attribute in ("userPrincipalName", "mail", "originalUserPrincipalName"):
            value = user.attributes.get(attribute)
            if isinstance(value, str) and value.casefold() == folded:
                return user.id
    return None


def _match_step(found: TargetLookup | None, item: planner.Evaluated, linked: str | None) -> Step:
    if found is None:
        return Step("Match user", "skipped", "not in scope: no target look-up")
    tried = [f"{path} eq {value!r}" for path, value in item.match_keys]
    details: dict[str, Any] = {"matchingAttributes": tried, "candidates": found.candidates}
    if linked is not None:
        details["linkedTargetId"] = linked
    if found.error is not None:
        return Step("Match user", "failure", found.error, details)
    if found.candidates > 1:
        return Step(
            "Match user",
            "failure",
            f"{found.candidates} target users match {found.matched_by} (DuplicateTargetEntries)",
            details,
        )
    if found.document is not None:
        target_id = str(found.document.get("id", ""))
        how = found.matched_by or "id"
        if found.anchor_lost:
            how += f" (linked id {linked} answered 404)"
        return Step("Match user", "success", f"matched target user {target_id} by {how}", details)
    if linked is not None and found.anchor_lost:
        return Step("Match user", "success", f"linked id {linked} is gone; no match", details)
    return Step("Match user", "success", "no target user matches: it will be created", details)


def _action_step(outcomes: list[Outcome]) -> Step:
    if not outcomes:
        return Step("Perform action", "skipped", "nothing to do")
    main = outcomes[0]
    details: dict[str, Any] = {"action": main.action, "targetId": main.target_id}
    changes = [change for outcome in outcomes for change in outcome.changes]
    if changes:
        details["modifiedProperties"] = {
            path: {"old": shown(old), "new": shown(new)} for path, old, new in changes
        }
    failed = next((o for o in outcomes if o.status == "failure"), None)
    if failed is not None:
        details["errorCode"] = failed.error_code
        return Step("Perform action", "failure", failed.reason or "failed", details)
    if main.status == "skipped":
        skipped = explain(main.skip_reason) if main.skip_reason else "skipped"
        return Step("Perform action", "skipped", skipped, details)
    verb = {"create": "created", "update": "updated", "disable": "disabled", "delete": "deleted"}
    return Step(
        "Perform action",
        "success",
        f"{verb.get(main.action, main.action)} {main.target_id}",
        details,
    )


async def provision_on_demand(runner: Runner, wanted: str) -> OnDemandResult:
    """Run the five steps for one user (source id, userPrincipalName or mail)."""
    result = OnDemandResult(wanted)
    steps = result.steps
    state = runner.store.load()
    try:
        snapshot = runner.source.read()
    except SourceError as exc:
        steps.append(Step("Import user", "failure", str(exc)))
        return result
    user_id = _find(snapshot, wanted)
    if user_id is None:
        steps.append(Step("Import user", "failure", f"no user {wanted!r} in the source"))
        return result
    user = snapshot.users[user_id]
    imported = {k: shown(v) for k, v in user.attributes.items() if v not in (None, "", [])}
    steps.append(Step("Import user", "success", f"retrieved user {user_id}", imported))

    single = SourceSnapshot(
        {user_id: user}, snapshot.groups, snapshot.app_roles, snapshot.assignments
    )
    evaluated = planner.evaluate_source(runner.job, single, clock=runner.now, rng=runner.rng)
    key = JobState.key(Kind.USER, user_id)
    item = evaluated[key]
    scope = dict(item.scoping)
    scope["ScopeAll"] = str(runner.job.config.scope == "all")
    for scoping_filter in runner.job.user_filters:
        scope[f"filter {scoping_filter.title}"] = str(scoping_filter.holds(user.attributes))
    entitled = item.entitled
    scope_text = "in scope" if entitled else f"out of scope: {explain(item.reason.value)}"
    steps.append(Step("Determine scope", "success" if entitled else "skipped", scope_text, scope))

    link = state.links.get(key)
    found: TargetLookup | None = None
    try:
        if entitled and item.mapped is not None:
            by_id = link.target_id if link is not None else None
            found = await runner.lookups.look_up_one(
                Lookup(Kind.USER, user_id, by_id, item.match_keys)
            )
        steps.append(_match_step(found, item, link.target_id if link else None))
        alone = JobState(links={key: link} if link is not None else {})
        plan = planner.plan(
            {key: item},
            alone,
            {key: found} if found is not None else {},
            on_demand_policy(runner.settings),
            initial=True,
            has_active_mapping=has_active_mapping(runner.job),
        )
        actions = [*plan.phases.get(Phase.USERS, ()), *plan.phases.get(Phase.REFERENCES, ())]
        targets = {key: found} if found is not None else {}
        outcomes: list[Outcome] = []
        for action in actions:
            outcome = await runner.actions.run(action, state, evaluated, targets, initial=True)
            if outcome is not None:
                outcomes.append(outcome)
    except StopSync as exc:
        steps.insert(0, Step("Test connection", "failure", str(exc)))
        return result
    steps.append(_action_step(outcomes))
    cycle_id = f"on-demand-{uuid.uuid4()}"
    at = format_time(runner.now())
    result.entries = [
        {
            **log_entry(o, job=runner.job.name, cycle_id=cycle_id, at=at),
            "initiatedBy": {"initiatorType": "user", "displayName": "sync on-demand"},
        }
        for o in outcomes
    ]
    escrows.record(
        state,
        evaluated,
        outcomes,
        now=runner.now(),
        delays_minutes=runner.settings.escrow_retry_minutes,
        finished=False,
    )
    runner.store.save(state)
    runner.logs.append(result.entries)
    return result
