"""Runs one planned action against the target and records it in the job's state.

Each action gives one :class:`~hostsync.engine.reports.Outcome` (or None: nothing to log). A
:class:`~hostsync.engine.errors.SyncError` fails that object alone; only
:class:`~hostsync.engine.errors.StopSync` stops the cycle. A create that fails transiently is
retried only after a match query shows it did not land.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from hostsync.engine import wire
from hostsync.engine.client import MAX_THROTTLED_RETRIES, ScimClient
from hostsync.engine.errors import ConflictError, NotFoundError, StopSync, SyncError, TransientError
from hostsync.engine.jobs import SettingsConfig
from hostsync.engine.lookups import Lookups
from hostsync.engine.mappings import ACTIVE_PATH
from hostsync.engine.planner import (
    Action,
    AttributeChange,
    Create,
    Delete,
    Disable,
    Evaluated,
    Failure,
    SetManager,
    Skip,
    TargetLookup,
    Update,
    UpdateMembers,
)
from hostsync.engine.ports import JobState, Kind, Link
from hostsync.engine.reports import Outcome


class ActionRunner:
    """Sends planned actions through ``client``; ``lookups`` checks whether a create landed."""

    def __init__(self, client: ScimClient, settings: SettingsConfig, lookups: Lookups) -> None:
        self.client = client
        self.settings = settings
        self.dialect = settings.dialect
        self.lookups = lookups

    async def run(
        self,
        action: Action,
        state: JobState,
        evaluated: Mapping[str, Evaluated],
        targets: Mapping[str, TargetLookup],
        *,
        initial: bool,
    ) -> Outcome | None:
        """Run ``action``, update ``state``'s links, and time it; a failure is an outcome."""
        started = time.monotonic()
        item = evaluated.get(JobState.key(action.kind, action.source_id))
        scoping = item.scoping if item is not None else {}
        found = targets.get(JobState.key(action.kind, action.source_id))
        matched_by = found.matched_by if found is not None and found.document else None
        base = Outcome(
            action.kind.value,
            action.source_id,
            action.display,
            action.action,
            "pending",
            scoping=scoping,
            matched_by=matched_by,
        )
        try:
            outcome = await self._dispatch(action, state, base, initial=initial)
        except StopSync:
            raise
        except SyncError as exc:
            target = getattr(action, "target_id", None)
            if isinstance(exc, NotFoundError) and isinstance(action, Update | Disable):
                state.links.pop(JobState.key(action.kind, action.source_id), None)
            outcome = replace(
                base,
                status="failure",
                target_id=target,
                changes=getattr(action, "changes", ()),
                error_code=exc.code,
                reason=exc.reason,
            )
        if outcome is None:
            return None
        duration = int((time.monotonic() - started) * 1000)
        return replace(outcome, duration_ms=duration)

    async def _dispatch(
        self, action: Action, state: JobState, base: Outcome, *, initial: bool
    ) -> Outcome | None:
        if isinstance(action, Create):
            return await self._create(action, state, base)
        if isinstance(action, Update):
            return await self._update(action, state, base)
        if isinstance(action, Disable):
            await self.client.patch(
                action.kind, action.target_id, wire.disable_operations(self.dialect)
            )
            link = state.links[JobState.key(action.kind, action.source_id)]
            link.exported[ACTIVE_PATH] = False
            link.managed = not action.unmanage
            return replace(
                base, status="success", target_id=action.target_id, changes=action.changes
            )
        if isinstance(action, Delete):
            await self.client.delete(action.kind, action.target_id)
            state.links.pop(JobState.key(action.kind, action.source_id), None)
            return replace(base, status="success", target_id=action.target_id)
        if isinstance(action, Skip):
            return self._skip(action, state, base)
        if isinstance(action, Failure):
            return replace(base, status="failure", error_code=action.code, reason=action.reason)
        if isinstance(action, SetManager):
            return await self._set_manager(action, state, base, initial=initial)
        return await self._members(action, state, base)

    def _skip(self, action: Skip, state: JobState, base: Outcome) -> Outcome | None:
        key = JobState.key(action.kind, action.source_id)
        link = state.links.get(key)
        if action.forget:
            state.links.pop(key, None)
        elif action.unmanage and link is not None:
            link.managed = False
        if action.quiet:
            return None
        target = link.target_id if link is not None else None
        return replace(base, status="skipped", target_id=target, skip_reason=action.reason)

    async def _create(self, action: Create, state: JobState, base: Outcome) -> Outcome:
        body = wire.build_resource(action.kind, action.values, self.dialect)
        manager = self._manager_in_post(action, state)
        if manager is not None:
            wire.add_manager(body, manager.target_id)
        attempt = throttled = 0
        while True:
            try:
                created = await self.client.create(action.kind, body)
                target_id = str(created["id"])
                break
            except ConflictError:
                matched = await self.lookups.match(action.kind, action.match_keys)
                if matched.document is None:
                    raise
                return await self._adopt(action, state, base, matched)
            except TransientError as error:
                if error.code == "TooManyRequests":
                    throttled += 1
                    if throttled > MAX_THROTTLED_RETRIES:
                        raise
                else:
                    attempt += 1
                    if attempt > self.client.max_retries:
                        raise
                    await self.client.sleep(self.client.delay(attempt, error))
                # The POST may have landed before the failure: look before sending it again.
                matched = await self.lookups.match(action.kind, action.match_keys)
                if matched.document is not None:
                    return await self._adopt(action, state, base, matched)
        link = Link(
            action.kind, action.source_id, target_id, action.display, exported=dict(action.values)
        )
        state.links[JobState.key(action.kind, action.source_id)] = link
        changes = list(action.changes)
        if manager is not None:
            link.manager = action.manager
            changes.append(AttributeChange("manager", None, manager.target_id))
        return replace(base, status="success", target_id=target_id, changes=changes)

    def _manager_in_post(self, action: Create, state: JobState) -> Link | None:
        """The manager's link when a user's POST can carry it (it is on the target already).

        Entra creates the user, then links the manager with a PATCH
        (docs/reference/entra-engine.md#cycle-references);
        in the ``compliant`` dialect the POST carries ``manager`` when it can, which saves that
        PATCH for every user but the first of each manager chain. ``entra-legacy`` keeps
        Entra's two requests.
        """
        if action.kind is not Kind.USER or action.manager is None:
            return None
        if self.dialect is not wire.Dialect.COMPLIANT:
            return None
        manager = state.link(Kind.USER, action.manager)
        return manager if manager is not None and manager.managed else None

    async def _adopt(
        self, action: Create, state: JobState, base: Outcome, matched: TargetLookup
    ) -> Outcome:
        """Link an object that a create found already there; PATCH what differs."""
        document = matched.document or {}
        target_id = str(document.get("id", ""))
        current = wire.read_values(document, action.values)
        changes = [
            (path, current.get(path), value)
            for path, value in action.values.items()
            if not wire.same(current.get(path), value)
        ]
        if changes:
            await self.client.patch(
                action.kind, target_id, wire.patch_operations(changes, self.dialect)
            )
        state.links[JobState.key(action.kind, action.source_id)] = Link(
            action.kind, action.source_id, target_id, action.display, exported=dict(action.values)
        )
        return replace(
            base,
            action="update",
            matched_by=matched.matched_by,
            status="success",
            target_id=target_id,
            changes=changes,
        )

    async def _update(self, action: Update, state: JobState, base: Outcome) -> Outcome:
        if action.changes:
            ops = wire.patch_operations(list(action.changes), self.dialect)
            await self.client.patch(action.kind, action.target_id, ops)
        key = JobState.key(action.kind, action.source_id)
        link = state.links.get(key)
        if link is None or link.target_id != action.target_id:
            link = Link(action.kind, action.source_id, action.target_id, action.display)
            state.links[key] = link
        link.exported = dict(action.exported)
        link.managed = True
        link.display = action.display
        outcome_action = "update" if action.changes else "other"
        return replace(
            base,
            action=outcome_action,
            status="success",
            target_id=action.target_id,
            changes=action.changes,
            skip_reason=None if action.changes else "RedundantExport",
        )

    async def _set_manager(
        self, action: SetManager, state: JobState, base: Outcome, *, initial: bool
    ) -> Outcome | None:
        user = state.link(Kind.USER, action.source_id)
        manager = state.link(Kind.USER, action.manager_source_id)
        if user is None:
            return None  # the user itself failed this cycle; its entry says why
        if user.manager == action.manager_source_id:
            return None  # its POST carried the manager
        if manager is None or not manager.managed:
            if not initial:
                return None
            return replace(
                base,
                status="skipped",
                target_id=user.target_id,
                skip_reason="ManagerNotProvisioned",
                reason=f"manager {action.manager_source_id} is not on the target (yet)",
            )
        ops = wire.manager_operations(manager.target_id, self.client.users_url, self.dialect)
        await self.client.patch(Kind.USER, user.target_id, ops)
        user.manager = action.manager_source_id
        change = ("manager", action.old, manager.target_id)
        return replace(base, status="success", target_id=user.target_id, changes=[change])

    async def _members(
        self, action: UpdateMembers, state: JobState, base: Outcome
    ) -> Outcome | None:
        group = state.link(Kind.GROUP, action.source_id)
        if group is None:
            return None
        add = {s: link.target_id for s in action.add if (link := state.link(Kind.USER, s))}
        remove = {s: link.target_id for s in action.remove if (link := state.link(Kind.USER, s))}
        gone = [s for s in action.remove if s not in remove]
        members = set(group.members) - set(gone)
        size = self.settings.member_batch_size
        pending = [("add", s, t) for s, t in add.items()] + [
            ("remove", s, t) for s, t in remove.items()
        ]
        for start in range(0, len(pending), size):
            batch = pending[start : start + size]
            ops = wire.member_operations(
                [t for op, _, t in batch if op == "add"],
                [t for op, _, t in batch if op == "remove"],
                self.dialect,
            )
            try:
                await self.client.patch(Kind.GROUP, group.target_id, ops)
            finally:
                group.members = sorted(members)
            members |= {s for op, s, _ in batch if op == "add"}
            members -= {s for op, s, _ in batch if op == "remove"}
        group.members = sorted(members)
        if not pending:
            return None
        changes = [("members", None, f"+{t}") for t in add.values()] + [
            ("members", t, None) for t in remove.values()
        ]
        return replace(base, status="success", target_id=group.target_id, changes=changes)
