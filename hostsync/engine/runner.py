"""Runs provisioning cycles: read the source, look up the target, plan, execute, record.

One cycle (docs/reference/entra-engine.md#cycle-initial,
docs/reference/entra-engine.md#cycle-incremental, docs/reference/entra-engine.md#cycle-order):

1. Load state. A changed mapping or scope (config digest) or a restart clears the watermark:
   the cycle is then *initial* and re-reads every linked object by id; otherwise it is
   *incremental* and sends requests only where mapped values differ from the values last
   exported.
2. Read the source. An unreadable source, or one with no users while users are linked, stops
   the cycle before anything is deprovisioned
   (docs/reference/entra-engine.md#ours-empty-source-guard).
3. Look up the target (match queries, reads by id), bounded by the client's concurrency.
4. Plan (pure), then execute phase by phase (users, manager references, groups, memberships),
   each phase with ``concurrency`` workers. A create that fails transiently is retried only
   after a match query shows it did not land.
5. Record: links and exported values in the state file, one log entry per object, the cycle
   summary; e-mail when the cycle fails, stops at the deletion threshold, or is quarantined.
   An e-mail the server does not take waits in the job's outbox and is retried before the
   next cycle (:class:`~hostsync.engine.notify.Notifier`); a mail outage never fails a cycle.

Failed objects keep their old exported values and are *escrowed* (``JobState.escrows``): they
are retried after growing delays (``settings.escrow_retry_minutes``: the next cycle, then +6 h,
+12 h, +24 h, then daily), or at once when their source object changes. A failed cycle
quarantines the job; its next cycles wait ``settings.quarantine_retry_minutes`` (+6 h, +12 h,
+24 h, then daily), and a job quarantined for ``quarantine_disable_days`` (28) without a
successful cycle is disabled until ``sync restart`` (docs/reference/entra-engine.md#quarantine).
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hostsync.engine import planner, wire
from hostsync.engine.client import MAX_THROTTLED_RETRIES, ScimClient
from hostsync.engine.errors import (
    ConflictError,
    NotFoundError,
    SourceError,
    StopSync,
    SyncError,
    TransientError,
)
from hostsync.engine.jobs import Job
from hostsync.engine.mappings import ACTIVE_PATH, matching
from hostsync.engine.matching import TargetIndex, projection
from hostsync.engine.memory import collector_paused, frozen_heap
from hostsync.engine.notify import Mailer as Mailer  # re-exported: runners take a mailer
from hostsync.engine.notify import Notifier, Outbox
from hostsync.engine.planner import (
    Action,
    AttributeChange,
    Create,
    Delete,
    Disable,
    Evaluated,
    Failure,
    Lookup,
    Phase,
    Plan,
    Policy,
    SetManager,
    Skip,
    TargetLookup,
    Update,
    UpdateMembers,
)
from hostsync.engine.ports import (
    Escrow,
    JobState,
    Kind,
    Link,
    LogSink,
    Quarantine,
    Source,
    SyncState,
)
from hostsync.engine.progress import ProgressSink
from hostsync.engine.reports import Outcome, failure_email, log_entry
from hostsync.engine.state import FileOutbox

T = TypeVar("T")
R = TypeVar("R")

CHECKPOINT_MINIMUM = 1000
"""A plan with this many actions that send requests (skips do not count) saves the state
before it starts and after each phase."""
LISTING_MINIMUM = 100
"""Fewer look-ups of a kind than this are always per-object filter queries."""
LISTING_PAGE = 1000
"""Objects asked for per listing page (the target may clamp it: its ``maxResults``)."""
PAGE_COST = 10
"""About how many match queries one listing page costs (measured on hostsync, SQLite)."""

ESCROW_MINIMUM = 5_000
ESCROW_PROPORTION = 0.4
ESCROW_TOTAL = 40_000


@dataclass(slots=True)
class CycleReport:
    """What one cycle did (Graph ``synchronizationTaskExecution``, abridged)."""

    cycle_id: str
    type: str
    started: str
    ended: str = ""
    state: str = "Running"
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    requests: int = 0
    plan: Plan | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    emailed: bool = False
    """A failure e-mail went out this cycle (an older waiting one may have gone too)."""
    emails_pending: int = 0
    """Failure e-mails still waiting in the outbox after this cycle (the server refused them)."""
    email_error: str | None = None
    """Why they wait: the last delivery error."""

    def summary(self) -> dict[str, Any]:
        """The JSON-serialisable summary kept in the state as ``last_cycle``."""
        return {
            "cycleId": self.cycle_id,
            "type": self.type,
            "started": self.started,
            "ended": self.ended,
            "state": self.state,
            "counts": self.counts,
            "error": self.error,
            "requests": self.requests,
        }


async def bounded(
    items: Sequence[T], work: Callable[[T], Awaitable[R]], concurrency: int
) -> list[R]:
    """Run ``work`` over ``items`` with at most ``concurrency`` at a time, results in order."""
    results: list[R | None] = [None] * len(items)
    queue = iter(enumerate(items))

    async def worker() -> None:
        for index, item in queue:
            results[index] = await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure (StopSync) stops the phase
    return [result for result in results if result is not None]


def _now_iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """A timestamp written by :func:`_now_iso`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def backoff(delays_minutes: Sequence[float], attempt: int) -> timedelta:
    """The delay after the ``attempt``-th consecutive failure (1-based); the last one repeats."""
    index = min(max(attempt, 1), len(delays_minutes)) - 1
    return timedelta(minutes=delays_minutes[index])


async def _counted(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    concurrency: int,
    progress: ProgressSink | None,
) -> list[R]:
    """:func:`bounded`, advancing ``progress`` as each item finishes."""
    if progress is None:
        return await bounded(items, work, concurrency)

    async def counted(item: T) -> R:
        try:
            return await work(item)
        finally:
            progress.advance()

    return await bounded(items, counted, concurrency)


class Runner:
    """Runs one job's cycles against one client."""

    def __init__(
        self,
        job: Job,
        source: Source,
        state: SyncState,
        logs: LogSink,
        client: ScimClient,
        *,
        dry_run: bool = False,
        mailer: Mailer | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        progress: ProgressSink | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        # outbox: where failure e-mails wait that mailer could not send (default: the job's).
        self.job = job
        self.source = source
        self.store = state
        self.logs = logs
        self.client = client
        self.dry_run = dry_run
        self.mailer = mailer
        self.notifier = (
            None
            if mailer is None
            else Notifier(mailer, outbox or FileOutbox(job.outbox_path), now=now)
        )
        self.now = now
        self.rng = rng or random.SystemRandom()
        self.progress = progress
        self.settings = job.settings
        self.dialect = job.settings.dialect

    # ------------------------------------------------------------------ the cycle

    async def run_cycle(self) -> CycleReport:
        """Run one cycle (initial or incremental) and record it; never raises SyncError.

        Failure e-mails left unsent by earlier cycles are sent first (not in a dry run); one
        the mail server still refuses waits for the next cycle and never fails this one. A dry
        run writes nothing, even when it fails (a missing source, a refused token): no state,
        no quarantine, no log entry, no e-mail.
        """
        notifier = None if self.dry_run else self.notifier
        if notifier is not None:
            notifier.retry()
        state = self.store.load()
        with frozen_heap():
            report = await self._cycle(state)
        if notifier is not None:
            report.emails_pending, report.email_error = notifier.pending, notifier.error
        return report

    async def _cycle(self, state: JobState) -> CycleReport:
        digest = self.job.digest()
        if state.config_digest != digest:
            state.watermark = None
            state.config_digest = digest
        initial = state.watermark is None
        report = CycleReport(
            str(uuid.uuid4()), "initial" if initial else "incremental", _now_iso(self.now())
        )
        if state.disabled is not None:
            report.state, report.error, report.ended = "Disabled", state.disabled, report.started
            return report
        requests_before = self.client.requests
        outcomes: list[Outcome] = []
        evaluated: dict[str, Evaluated] = {}
        deferred: frozenset[str] = frozenset()
        try:
            with collector_paused():  # then frozen: run_cycle's frozen_heap ends after us
                evaluated = self._evaluate(state, initial=initial)
                deferred = self._deferred(state, evaluated, self.now())
                needed = planner.lookups(evaluated, state, initial=initial, deferred=deferred)
            gc.freeze()
            targets = await self._look_up(needed)
            plan = planner.plan(
                evaluated,
                state,
                targets,
                self._policy(state),
                initial=initial,
                has_active_mapping=self._has_active_mapping(),
                deferred=deferred,
            )
            report.plan = plan
            if self.dry_run:
                report.state = "DryRun"
                report.ended = _now_iso(self.now())
                report.requests = self.client.requests - requests_before
                return report
            total = len(plan.actions())
            state.current_cycle = {**report.summary(), "total": total}
            sending = sum(not isinstance(action, Skip) for action in plan.actions())
            checkpoints = sending >= CHECKPOINT_MINIMUM
            if checkpoints:
                self.store.save(state)
            await self._execute(
                plan,
                state,
                evaluated,
                targets,
                outcomes,
                initial=initial,
                checkpoints=checkpoints,
            )
        except (SourceError, StopSync) as exc:
            report.state = "Failed"
            report.error = str(exc)
            if self.dry_run:  # a plan saves nothing: no state, no quarantine, no log
                report.ended = _now_iso(self.now())
                report.requests = self.client.requests - requests_before
                return report
        report.ended = _now_iso(self.now())
        report.requests = self.client.requests - requests_before
        report.entries = [
            log_entry(o, job=self.job.name, cycle_id=report.cycle_id, at=report.ended)
            for o in outcomes
        ]
        report.counts = dict(Counter(f"{o.action}:{o.status}" for o in outcomes))
        if deferred:
            report.counts["escrow:deferred"] = len(deferred)
        self._escrow(state, evaluated, outcomes, deferred, finished=report.state != "Failed")
        _record_digests(state, evaluated)
        self._finish(state, report, outcomes, initial)
        return report

    def _has_active_mapping(self) -> bool:
        return any(m.name.lower() == ACTIVE_PATH for m in self.job.user_mappings)

    # ------------------------------------------------------------------ escrow

    def _deferred(
        self, state: JobState, evaluated: Mapping[str, Evaluated], now: datetime
    ) -> frozenset[str]:
        """Escrowed objects still waiting for their next attempt, unchanged in the source."""
        return frozenset(
            key
            for key, escrow in state.escrows.items()
            if parse_time(escrow.next_attempt) > now
            and planner.fingerprint(evaluated.get(key)) == escrow.fingerprint
        )

    def _escrow(
        self,
        state: JobState,
        evaluated: Mapping[str, Evaluated],
        outcomes: Sequence[Outcome],
        deferred: frozenset[str],
        *,
        finished: bool,
    ) -> None:
        """Escrow the objects that failed; release those that went through."""
        now = self.now()
        failed: dict[str, Outcome] = {}
        for outcome in outcomes:
            key = f"{outcome.kind}:{outcome.source_id}"
            if outcome.status == "failure":
                failed.setdefault(key, outcome)
            else:
                state.escrows.pop(key, None)
        if finished:  # an escrowed object with nothing to do any more is released too
            for key in [k for k in state.escrows if k not in deferred and k not in failed]:
                del state.escrows[key]
        for key, outcome in failed.items():
            previous = state.escrows.get(key)
            failures = previous.failures + 1 if previous is not None else 1
            delay = backoff(self.settings.escrow_retry_minutes, failures)
            state.escrows[key] = Escrow(
                failures=failures,
                first_failed=previous.first_failed if previous is not None else _now_iso(now),
                next_attempt=_now_iso(now + delay),
                fingerprint=planner.fingerprint(evaluated.get(key)),
                code=outcome.error_code or "",
                reason=outcome.reason or "",
            )

    def _evaluate(self, state: JobState, *, initial: bool) -> dict[str, Evaluated]:
        snapshot = self.source.read()
        linked_users = any(link.kind is Kind.USER for link in state.links.values())
        if not snapshot.users and linked_users:
            raise SourceError(
                "the source returned no users while users are provisioned; "
                "refusing to deprovision everyone (check the source export)"
            )
        previous = None if initial else state
        return planner.evaluate_source(
            self.job, snapshot, clock=self.now, rng=self.rng, previous=previous
        )

    def _policy(self, state: JobState) -> Policy:
        return Policy(
            skip_out_of_scope_deletions=self.settings.skip_out_of_scope_deletions,
            hard_deletes=self.settings.hard_deletes,
            deletion_threshold=self.settings.deletion_threshold,
            allow_deletes=state.allow_deletes,
        )

    # ------------------------------------------------------------------ look-ups

    async def _look_up(self, needed: list[Lookup]) -> dict[str, TargetLookup]:
        results: dict[str, TargetLookup] = {}
        for kind in Kind:
            wanted = [lookup for lookup in needed if lookup.kind is kind]
            index = await self._listing(kind, len(wanted))
            if index is not None:
                results.update((lookup.key, index.resolve(lookup)) for lookup in wanted)
        queries = [lookup for lookup in needed if lookup.key not in results]
        if self.progress is not None and queries:
            self.progress.start("look-up", len(queries))
        found = await _counted(queries, self._look_up_one, self.settings.concurrency, self.progress)
        if self.progress is not None and queries:
            self.progress.finish()
        results.update((lookup.key, result) for lookup, result in zip(queries, found, strict=True))
        return results

    async def _listing(self, kind: Kind, wanted: int) -> TargetIndex | None:
        """The whole target listing of ``kind`` when that is cheaper than ``wanted`` queries.

        ``settings.matching``: ``query`` never lists (Entra: one filter query per object);
        ``list`` always does; ``auto`` lists when at least :data:`LISTING_MINIMUM` objects need
        a look-up and the listing's pages cost less than their queries (a page of
        :data:`LISTING_PAGE` objects ≈ :data:`PAGE_COST` queries, measured on hostsync). An
        unusable listing (an error, pages that do not add up to ``totalResults``) falls back to
        the queries.
        """
        setting = self.settings.matching
        if wanted == 0 or setting == "query" or (setting == "auto" and wanted < LISTING_MINIMUM):
            return None
        mappings = self.job.user_mappings if kind is Kind.USER else self.job.group_mappings
        attributes = projection(mappings)
        try:
            first, total = await self.client.list_page(
                kind, attributes=attributes, start_index=1, count=LISTING_PAGE
            )
            size = len(first)
            if size == 0 and total > 0:
                return None
            pages = -(-(total - size) // size) if total > size else 0
            if setting == "auto" and (pages + 1) * PAGE_COST > wanted:
                return None
            starts = [1 + size * page for page in range(1, pages + 1)]

            async def page(start: int) -> list[dict[str, Any]]:
                found, _ = await self.client.list_page(
                    kind, attributes=attributes, start_index=start, count=size
                )
                if self.progress is not None:
                    self.progress.advance(len(found))
                return found

            if self.progress is not None and starts:
                self.progress.start(f"list {kind.value}s", total)
                self.progress.advance(size)
            rest = await bounded(starts, page, self.settings.concurrency)
            if self.progress is not None and starts:
                self.progress.finish()
        except StopSync:
            raise
        except SyncError:
            return None
        documents = {str(d.get("id")): d for chunk in (first, *rest) for d in chunk}
        if len(documents) != total:
            return None  # the target changed while it was listed, or it does not page
        paths = [mapping.name for mapping in matching(mappings)]
        return TargetIndex(documents.values(), paths)

    async def _look_up_one(self, lookup: Lookup) -> TargetLookup:
        try:
            if lookup.by_id is not None:
                try:
                    document = await self.client.get(lookup.kind, lookup.by_id)
                    return TargetLookup(document, 1, "id")
                except NotFoundError:
                    matched = await self._match(lookup.kind, lookup.matches)
                    return TargetLookup(
                        matched.document, matched.candidates, matched.matched_by, True
                    )
            return await self._match(lookup.kind, lookup.matches)
        except StopSync:
            raise
        except SyncError as exc:
            return TargetLookup(None, error=f"{exc.code}: {exc.reason}")

    async def _match(self, kind: Kind, matches: Iterable[tuple[str, str]]) -> TargetLookup:
        """Matching precedence: the first attribute that finds anything decides.

        See docs/reference/entra-engine.md#matching.
        """
        for path, value in matches:
            found = await self.client.find(kind, path, value)
            if len(found) == 1:
                return TargetLookup(found[0], 1, f"{path} eq {value!r}")
            if found:
                return TargetLookup(None, len(found), f"{path} eq {value!r}")
        return TargetLookup(None)

    # ------------------------------------------------------------------ execution

    async def _execute(
        self,
        plan: Plan,
        state: JobState,
        evaluated: Mapping[str, Evaluated],
        targets: Mapping[str, TargetLookup],
        outcomes: list[Outcome],
        *,
        initial: bool,
        checkpoints: bool,
    ) -> None:
        """Run the plan phase by phase; with ``checkpoints``, save the state after each phase.

        A long cycle (:data:`CHECKPOINT_MINIMUM` actions or more) saves its links and progress
        (for ``sync status``) before it starts and after every phase that sent something; a
        short one saves once, at the end: should it be interrupted, the next cycle's match
        queries find what it created.
        """
        progress = self.progress
        if progress is not None:
            progress.start("provision", len(plan.actions()))
        for phase in Phase:
            actions = plan.phases.get(phase, ())

            async def record(action: Action) -> None:
                outcome = await self._run_action(action, state, evaluated, targets, initial=initial)
                if outcome is not None:
                    outcomes.append(outcome)

            before = len(outcomes)
            batches = planner.waves(actions) if phase is Phase.USERS else [list(actions)]
            for batch in batches:  # managers are created before the users they manage
                await _counted(batch, record, self.settings.concurrency, progress)
            if state.current_cycle is not None:  # progress for `sync status`
                done = state.current_cycle.get("completed", 0) + len(actions)
                state.current_cycle["completed"] = done
                if checkpoints and len(outcomes) > before:
                    self.store.save(state)
        if progress is not None:
            progress.finish()
        for action in plan.staged:
            outcomes.append(
                Outcome(
                    action.kind.value,
                    action.source_id,
                    action.display,
                    "stagedDelete",
                    "skipped",
                    action.target_id,
                    skip_reason="AccidentalDeletionThreshold",
                    reason=f"held back: this cycle would {action.action} more than "
                    f"{self.settings.deletion_threshold} objects; run 'hostsync sync "
                    "allow-deletes' to let them through",
                )
            )

    async def _run_action(
        self,
        action: Action,
        state: JobState,
        evaluated: Mapping[str, Evaluated],
        targets: Mapping[str, TargetLookup],
        *,
        initial: bool,
    ) -> Outcome | None:
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
            outcome = await self._dispatch(action, state, base, initial=initial, found=found)
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
        self,
        action: Action,
        state: JobState,
        base: Outcome,
        *,
        initial: bool,
        found: TargetLookup | None,
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
                matched = await self._match(action.kind, action.match_keys)
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
                matched = await self._match(action.kind, action.match_keys)
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

    # ------------------------------------------------------------------ bookkeeping

    def _finish(
        self, state: JobState, report: CycleReport, outcomes: list[Outcome], initial: bool
    ) -> None:
        now = self.now()
        failures = sum(o.status == "failure" for o in outcomes)
        staged = report.plan.staged if report.plan is not None else ()
        previous = state.quarantine.reason if state.quarantine else None
        if report.state == "Failed":
            state.failed_cycles += 1
            self._quarantine(state, "EncounteredQuarantineException", report.error or "", now)
        else:
            state.failed_cycles = 0
            state.watermark = _now_iso(now)
            if staged:
                report.state = "StagedDeletes"
                state.staged = [JobState.key(a.kind, a.source_id) for a in staged]
                detail = f"{len(staged)} disables/deletes exceed the threshold"
                self._quarantine(state, "TooManyDeletes", detail, now)
            else:
                state.staged = []
                state.allow_deletes = False
                report.state = "EntryLevelErrors" if failures else "Succeeded"
                if _escrow_exceeded(failures, len(outcomes)):
                    detail = f"{failures} of {len(outcomes)} objects failed"
                    self._quarantine(state, "EncounteredEscrowProportionThreshold", detail, now)
                else:
                    state.quarantine = None  # any successful cycle lifts quarantine
        state.cycles += 1
        state.last_cycle = report.summary()
        state.current_cycle = None
        self.store.save(state)
        self.logs.append(report.entries)
        current = state.quarantine.reason if state.quarantine else None
        if state.disabled is not None:
            report.emailed = self._notify(report, "the job was disabled after weeks in quarantine")
        elif current is not None and current != previous:
            report.emailed = self._notify(report, current)
        elif report.state == "Failed" and previous is None:
            report.emailed = self._notify(report, "the cycle failed")

    def _quarantine(self, state: JobState, reason: str, detail: str, now: datetime) -> None:
        """Enter or extend quarantine; disable the job after ``quarantine_disable_days``."""
        old = state.quarantine
        series = old.series_count + 1 if old else 1
        delay = backoff(self.settings.quarantine_retry_minutes, series)
        began = old.began if old and old.reason == reason else _now_iso(now)
        series_began = (old.series_began or old.began) if old else _now_iso(now)
        state.quarantine = Quarantine(
            reason, began, _now_iso(now + delay), series, detail, series_began
        )
        limit = timedelta(days=self.settings.quarantine_disable_days)
        if now - parse_time(series_began) >= limit:
            state.disabled = (
                f"quarantined since {series_began} ({reason}: {detail}); disabled after "
                f"{self.settings.quarantine_disable_days:g} days without a successful cycle; "
                "fix the cause, then run 'hostsync sync restart'"
            )

    def _notify(self, report: CycleReport, reason: str) -> bool:
        """Send the failure e-mail; False when none is due or it waits for the next cycle."""
        settings = self.settings
        if (
            self.notifier is None
            or not settings.notification_email
            or not settings.send_failure_email
        ):
            return False
        problems = [e for e in report.entries if e["status"] == "failure"] or [
            e for e in report.entries if e["provisioningAction"] == "stagedDelete"
        ]
        message = failure_email(
            job=self.job.name,
            sender=settings.smtp.sender,
            recipient=settings.notification_email,
            reason=reason,
            summary=report.summary(),
            entries=problems,
            log_path=str(self.job.log_path),
        )
        return self.notifier.deliver(message)


def _record_digests(state: JobState, evaluated: Mapping[str, Evaluated]) -> None:
    """Record each mapped user's source digest on its link when the link holds all of it.

    A user whose action failed, was escrowed or deferred, whose manager is not linked yet, or
    that left scope keeps no digest: the next cycle maps and plans it again.
    """
    for key, item in evaluated.items():
        if item.kind is not Kind.USER or item.unchanged:
            continue
        link = state.links.get(key)
        if link is None:
            continue
        settled = item.digest is not None and key not in state.escrows
        link.digest = item.digest if settled and planner.settled(item, link) else None


def _escrow_exceeded(failures: int, total: int) -> bool:
    """Entra's escrow thresholds (docs/reference/entra-engine.md#quarantine)."""
    if failures < ESCROW_MINIMUM:
        return False
    return failures > ESCROW_TOTAL or failures > ESCROW_PROPORTION * total
