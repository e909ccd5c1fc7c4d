"""Builds a job's :class:`~hostsync.engine.runner.Runner` over the files beside its job file.

The one place where the runner meets its file adapters: the job's source (by its type), its
state (``<job>.state.json``), its log (``<job>.log.jsonl``) and its e-mail outbox.
"""

from __future__ import annotations

from hostsync.engine.client import ScimClient
from hostsync.engine.clock import Clock, system_clock
from hostsync.engine.jobs import Job
from hostsync.engine.notify import Mailer, Notifier
from hostsync.engine.progress import ProgressSink
from hostsync.engine.runner import Runner
from hostsync.engine.sources import open_source
from hostsync.engine.state import FileLogSink, FileOutbox, FileSyncState


def runner_for(
    job: Job,
    client: ScimClient,
    *,
    dry_run: bool = False,
    mailer: Mailer | None = None,
    now: Clock = system_clock,
    progress: ProgressSink | None = None,
) -> Runner:
    """A runner of ``job`` through ``client``; without ``mailer`` no failure e-mail is sent."""
    notifier = None if mailer is None else Notifier(mailer, FileOutbox(job.outbox_path), now=now)
    return Runner(
        job,
        open_source(job.config.source.type, job.source_path),
        FileSyncState(job.state_path),
        FileLogSink(job.log_path),
        client,
        dry_run=dry_run,
        notifier=notifier,
        now=now,
        progress=progress,
    )
