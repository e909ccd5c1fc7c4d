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

import gc
import random
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hostsync.engine import escrows, planner, quarantine
from hostsync.engine.actions import ActionRunner
from hostsync.engine.alerts import send_failure_email
from hostsync.engine.client import ScimClient
from hostsync.engine.clock import Clock, format_time, system_clock
from hostsync.engine.concurrency import counted
from hostsync.engine.errors import SourceError, StopSync
from hostsync.engine.jobs import Job
from hostsync.engine.lookups import Lookups
from hostsync.engine.memory import collector_paused, frozen_heap
from hostsync.engine.notify import Notifier
from hostsync.engine.planner import Action, Evaluated, Phase, Plan, Skip, TargetLookup
from hostsync.engine.planning import cycle_policy, has_active_mapping
from hostsync.engine.ports import JobState, Kind, LogSink, Source, SyncState
from hostsync.engine.progress import ProgressSink
from hostsync.engine.reports import Outcome, log_entry

CHECKPOINT_MINIMUM = 1000
"""A plan with this many actions that send requests (skips do not count) saves the state
before it starts and after each phase."""


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


class Runner:
    """Runs one job's cycles against one client.

    It orders the steps; the work is done by its collaborators: :attr:`lookups` (the target's
    objects), :attr:`actions` (one planned action), :mod:`~hostsync.engine.escrows` and
    :mod:`~hostsync.engine.quarantine` (what a failure delays). Build one with
    :func:`hostsync.engine.wiring.runner_for`.
    """

    def __init__(
        self,
        job: Job,
        source: Source,
        state: SyncState,
        logs: LogSink,
        client: ScimClient,
        *,
        dry_run: bool = False,
        notifier: Notifier | None = None,
        now: Clock = system_clock,
        rng: random.Random | None = None,
        progress: ProgressSink | None = None,
    ) -> None:
        # notifier: failure e-mails (None: none are sent); it keeps those the server refuses.
        self.job = job
        self.source = source
        self.store = state
        self.logs = logs
        self.client = client
        self.dry_run = dry_run
        self.notifier = notifier
        self.now = now
        self.rng = rng or random.SystemRandom()
        self.progress = progress
        self.settings = job.settings
        self.lookups = Lookups(job, client, progress=progress)
        self.actions = ActionRunner(client, job.settings, self.lookups)

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
            str(uuid.uuid4()), "initial" if initial else "incremental", format_time(self.now())
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
                deferred = escrows.waiting(state, evaluated, self.now())
                needed = planner.lookups(evaluated, state, initial=initial, deferred=deferred)
            gc.freeze()
            targets = await self.lookups.look_up(needed)
            plan = planner.plan(
                evaluated,
                state,
                targets,
                cycle_policy(self.settings, state),
                initial=initial,
                has_active_mapping=has_active_mapping(self.job),
                deferred=deferred,
            )
            report.plan = plan
            if self.dry_run:
                report.state = "DryRun"
                report.ended = format_time(self.now())
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
                report.ended = format_time(self.now())
                report.requests = self.client.requests - requests_before
                return report
        report.ended = format_time(self.now())
        report.requests = self.client.requests - requests_before
        report.entries = [
            log_entry(o, job=self.job.name, cycle_id=report.cycle_id, at=report.ended)
            for o in outcomes
        ]
        report.counts = dict(Counter(f"{o.action}:{o.status}" for o in outcomes))
        if deferred:
            report.counts["escrow:deferred"] = len(deferred)
        escrows.record(
            state,
            evaluated,
            outcomes,
            now=self.now(),
            delays_minutes=self.settings.escrow_retry_minutes,
            finished=report.state != "Failed",
            deferred=deferred,
        )
        _record_digests(state, evaluated)
        self._finish(state, report, outcomes, initial)
        return report

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
                outcome = await self.actions.run(action, state, evaluated, targets, initial=initial)
                if outcome is not None:
                    outcomes.append(outcome)

            before = len(outcomes)
            batches = planner.waves(actions) if phase is Phase.USERS else [list(actions)]
            for batch in batches:  # managers are created before the users they manage
                await counted(batch, record, self.settings.concurrency, progress)
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

    # ------------------------------------------------------------------ bookkeeping

    def _finish(
        self, state: JobState, report: CycleReport, outcomes: list[Outcome], initial: bool
    ) -> None:
        now = self.now()

        def alert(reason: str) -> bool:
            summary, entries = report.summary(), report.entries
            return send_failure_email(self.notifier, self.job, reason, summary, entries)

        failures = sum(o.status == "failure" for o in outcomes)
        staged = report.plan.staged if report.plan is not None else ()
        previous = state.quarantine.reason if state.quarantine else None
        if report.state == "Failed":
            state.failed_cycles += 1
            quarantine.enter(
                state, "EncounteredQuarantineException", report.error or "", now, self.settings
            )
        else:
            state.failed_cycles = 0
            state.watermark = format_time(now)
            if staged:
                report.state = "StagedDeletes"
                state.staged = [JobState.key(a.kind, a.source_id) for a in staged]
                detail = f"{len(staged)} disables/deletes exceed the threshold"
                quarantine.enter(state, "TooManyDeletes", detail, now, self.settings)
            else:
                state.staged = []
                state.allow_deletes = False
                report.state = "EntryLevelErrors" if failures else "Succeeded"
                if escrows.exceeded(failures, len(outcomes)):
                    detail = f"{failures} of {len(outcomes)} objects failed"
                    quarantine.enter(
                        state, "EncounteredEscrowProportionThreshold", detail, now, self.settings
                    )
                else:
                    state.quarantine = None  # any successful cycle lifts quarantine
        state.cycles += 1
        state.last_cycle = report.summary()
        state.current_cycle = None
        self.store.save(state)
        self.logs.append(report.entries)
        current = state.quarantine.reason if state.quarantine else None
        if state.disabled is not None:
            report.emailed = alert("the job was disabled after weeks in quarantine")
        elif current is not None and current != previous:
            report.emailed = alert(current)
        elif report.state == "Failed" and previous is None:
            report.emailed = alert("the cycle failed")


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
