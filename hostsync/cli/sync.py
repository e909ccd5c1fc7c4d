"""``hostsync sync …``: run the provisioning engine from a job file.

``run JOB [--once] [--dry-run]``, ``plan JOB``, ``test JOB``, ``status JOB [--json]``,
``logs JOB [--json] [--user UPN] [--status S]``, ``on-demand JOB USER``, ``allow-deletes JOB``
and ``restart JOB``. Long cycles print progress lines on stderr.
State lives beside the job (``<job>.state.json``), logs in ``<job>.log.jsonl``. Errors are one
line on stderr with exit code 2. ``plan`` and ``run --dry-run`` write nothing, even when they
fail. Entra's codes are printed with their plain-language reason (:mod:`hostsync.engine.codes`).

Tests (and embedders) may pass ``obj={"sync_transport": httpx transport}`` to reach an
in-process server; nothing else reads ``ctx.obj``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from hostsync.engine.client import ScimClient
from hostsync.engine.codes import explain, reason_for
from hostsync.engine.errors import EngineError, StopSync, SyncError, TransientError
from hostsync.engine.jobs import Job, load_job
from hostsync.engine.notify import Mailer, Notifier, send_email, sleep_retrying
from hostsync.engine.on_demand import OnDemandResult, provision_on_demand
from hostsync.engine.planner import (
    Create,
    Disable,
    Failure,
    Plan,
    SetManager,
    Skip,
    UpdateMembers,
)
from hostsync.engine.progress import Progress
from hostsync.engine.reports import render_entry, shown
from hostsync.engine.runner import CycleReport, Runner
from hostsync.engine.schedule import describe_next, run_cycles
from hostsync.engine.state import FileLogSink, FileOutbox, FileSyncState
from hostsync.engine.wiring import runner_for

T = TypeVar("T")
JOB_ARGUMENT = click.argument(
    "job_path", metavar="JOB", type=click.Path(dir_okay=False, path_type=Path)
)


class SyncCliError(click.ClickException):
    """A failure reported as one line on stderr with exit code 2."""

    exit_code = 2


def _load(job_path: Path) -> Job:
    try:
        return load_job(job_path)
    except EngineError as exc:
        raise SyncCliError(str(exc)) from None


def _transport(ctx: click.Context) -> httpx.AsyncBaseTransport | None:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    transport = obj.get("sync_transport")
    return transport if isinstance(transport, httpx.AsyncBaseTransport) else None


def _client(job: Job, transport: httpx.AsyncBaseTransport | None, *, dry_run: bool) -> ScimClient:
    settings = job.settings
    return ScimClient(
        job.config.target.tenant_url,
        job.secret_token(),
        dry_run=dry_run,
        timeout=job.config.target.timeout_seconds,
        rate=settings.requests_per_second,
        concurrency=settings.concurrency,
        max_retries=settings.max_retries,
        transport=transport,
    )


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(work())
    except EngineError as exc:
        raise SyncCliError(str(exc)) from None


def _mailer(job: Job) -> Mailer:
    return lambda message: send_email(job.settings.smtp, message)


def _runner(job: Job, client: ScimClient, *, dry_run: bool) -> Runner:
    return runner_for(
        job, client, dry_run=dry_run, mailer=_mailer(job), progress=Progress(sys.stderr)
    )


async def _cycle(
    job: Job, transport: httpx.AsyncBaseTransport | None, dry_run: bool
) -> CycleReport:
    async with _client(job, transport, dry_run=dry_run) as client:
        if dry_run:
            # A plan of an unchanged directory sends no request: check the token and the URL
            # first, so a wrong or revoked token is never reported as "nothing to do".
            try:
                await client.test_connection()
            except (StopSync, TransientError) as exc:
                now = datetime.now(UTC).isoformat(timespec="seconds")
                return CycleReport("plan", "dry run", now, now, "Failed", error=str(exc))
            except SyncError:
                pass  # a target that filters loosely: the plan itself shows what it finds
        return await _runner(job, client, dry_run=dry_run).run_cycle()


def _describe(plan: Plan) -> list[str]:
    lines: list[str] = []
    for action in plan.actions():
        if isinstance(action, Skip) and action.quiet:
            continue
        head = f"{action.action:<8} {action.kind.value:<5} {action.display}"
        if isinstance(action, Skip):
            head += f"  (skip: {explain(action.reason)})"
        elif isinstance(action, Disable):
            head += f"  ({explain(action.reason.value)})"
        elif isinstance(action, Failure):
            head += f"  (failure: {explain(action.code)}: {action.reason})"
        lines.append(head)
        if isinstance(action, UpdateMembers):
            lines += [f"    + member {m}" for m in action.add]
            lines += [f"    - member {m}" for m in action.remove]
        elif isinstance(action, SetManager):
            lines.append(f"    manager: {action.old!r} → {action.manager_source_id!r}")
        elif not isinstance(action, Skip):
            for path, old, new in getattr(action, "changes", ()):
                if isinstance(action, Create):
                    lines.append(f"    {path}: {shown(new)!r}")
                else:
                    lines.append(f"    {path}: {shown(old)!r} → {shown(new)!r}")
    for staged in plan.staged:
        lines.append(f"staged   {staged.kind.value:<5} {staged.display}  ({staged.action} held)")
    return lines


def _print_on_demand(result: OnDemandResult) -> None:
    for number, step in enumerate(result.steps, 1):
        click.echo(f"{number}. {step.name}: {step.status}: {step.description}")
        for key, value in step.details.items():
            shown_value = json.dumps(value, default=str) if not isinstance(value, str) else value
            click.echo(f"     {key}: {shown_value}")


def _print_report(report: CycleReport) -> None:
    counts = ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items())) or "nothing to do"
    click.echo(
        f"cycle {report.cycle_id} ({report.type}): {report.state}; {counts}; "
        f"{report.requests} requests"
    )
    if report.error:
        click.echo(f"error: {report.error}", err=True)
    if report.emails_pending:
        click.echo(
            f"e-mail pending: {report.emails_pending} failure e-mail(s) not sent "
            f"({report.email_error}); retried at the next cycle",
            err=True,
        )
    for entry in report.entries:
        if entry["status"] == "failure":
            click.echo(render_entry(entry), err=True)


@click.group("sync")
def sync() -> None:
    """Provision a source directory into a SCIM endpoint, as Microsoft Entra does."""


@sync.command("run")
@JOB_ARGUMENT
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@click.option("--dry-run", is_flag=True, help="Read and plan only; send no write request.")
@click.pass_context
def run(ctx: click.Context, job_path: Path, once: bool, dry_run: bool) -> None:
    """Run cycles: the first is initial, later ones send only what changed.

    Without --once, a cycle runs every interval_minutes (later while quarantined) until the job
    is disabled after four weeks in quarantine. A failure e-mail the mail server refuses is
    retried before the next cycle and never stops the run: --once then exits 0 if the cycle
    itself did not fail, and says the e-mail is pending.
    """
    job = _load(job_path)
    transport = _transport(ctx)
    if once or dry_run:
        report = _run(lambda: _cycle(job, transport, dry_run))
        if dry_run and report.state == "Failed":
            raise SyncCliError(f"plan failed, nothing was sent or saved: {report.error}")
        if dry_run and report.plan is not None:
            for line in _describe(report.plan):
                click.echo(line)
            click.echo(f"dry run: {len(report.plan.actions())} actions planned, none sent")
        else:
            _print_report(report)
        if report.state in {"Failed", "Disabled"}:
            raise SyncCliError(f"cycle {report.state.lower()}: {report.error}")
        return
    interval = timedelta(minutes=job.settings.interval_minutes)
    notifier = Notifier(_mailer(job), FileOutbox(job.outbox_path))

    async def sleep(seconds: float) -> None:
        every = interval.total_seconds()
        await sleep_retrying(seconds, notifier.retry, every=every, sleep=asyncio.sleep)

    last = _run(
        lambda: run_cycles(
            lambda: _cycle(job, transport, dry_run),
            FileSyncState(job.state_path),
            interval=interval,
            now=lambda: datetime.now(UTC),
            sleep=sleep,
            on_report=_print_report,
            on_wait=lambda due, now: click.echo(describe_next(due, now)),
        )
    )
    raise SyncCliError(f"job disabled: {last.error}")


@sync.command("plan")
@JOB_ARGUMENT
@click.pass_context
def plan(ctx: click.Context, job_path: Path) -> None:
    """Print what the next cycle would do (old → new); sends no write, saves nothing.

    The token and URL are checked first (``sync test``'s two queries); a failure exits 2.
    """
    ctx.invoke(run, job_path=job_path, once=True, dry_run=True)


@sync.command("test")
@JOB_ARGUMENT
@click.pass_context
def test(ctx: click.Context, job_path: Path) -> None:
    """Test Connection, as Entra does it: query a random user and group."""
    job = _load(job_path)
    transport = _transport(ctx)

    async def probe() -> list[str]:
        async with _client(job, transport, dry_run=True) as client:
            return await client.test_connection()

    for step in _run(probe):
        click.echo(f"ok: {step}")
    click.echo("connection test passed")


def _cycle_text(cycle: dict[str, Any] | None, *, running: bool) -> str:
    if not cycle:
        return "none running" if running else "none yet"
    counts = cycle.get("counts") or {}
    done = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to do"
    if running:
        return (
            f"{cycle.get('type', '?')}, started {cycle.get('started', '?')}: "
            f"{cycle.get('completed', 0)} of {cycle.get('total', '?')} actions done"
        )
    return (
        f"{cycle.get('state', '?')} ({cycle.get('type', '?')}), ended {cycle.get('ended', '?')}; "
        f"{done}; {cycle.get('requests', 0)} requests"
    )


def _status(job: Job) -> dict[str, Any]:
    """The job's status as a JSON document (``sync status --json``)."""
    state = FileSyncState(job.state_path).load()
    try:
        pending = FileOutbox(job.outbox_path).load()
    except EngineError as exc:
        raise SyncCliError(str(exc)) from None
    users = sum(link.kind.value == "User" for link in state.links.values())
    due = min(state.escrows.values(), key=lambda e: e.next_attempt) if state.escrows else None
    quarantine = state.quarantine
    return {
        "job": job.name,
        "cycles": state.cycles,
        "nextCycleType": "initial" if state.watermark is None else "incremental",
        "users": users,
        "groups": len(state.links) - users,
        "currentCycle": state.current_cycle,
        "lastCycle": state.last_cycle,
        "quarantine": None
        if quarantine is None
        else {
            "reason": quarantine.reason,
            "explanation": reason_for(quarantine.reason),
            "since": quarantine.began,
            "nextAttempt": quarantine.next_attempt,
            "detail": quarantine.detail,
        },
        "stagedDeletions": len(state.staged),
        "escrowed": len(state.escrows),
        "escrowNextRetry": due.next_attempt if due is not None else None,
        "disabled": state.disabled,
        "emailsPending": len(pending),
        "emailsPendingSince": pending[0].queued if pending else None,
        "emailError": pending[0].error if pending else None,
    }


def _status_lines(info: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [
        ("job", str(info["job"])),
        ("cycles", str(info["cycles"])),
        ("next cycle", str(info["nextCycleType"])),
        ("users", str(info["users"])),
        ("groups", str(info["groups"])),
        ("current cycle", _cycle_text(info["currentCycle"], running=True)),
        ("last cycle", _cycle_text(info["lastCycle"], running=False)),
    ]
    last = info["lastCycle"] or {}
    if last.get("error"):
        lines.append(("last error", str(last["error"])))
    quarantine = info["quarantine"]
    if quarantine is None:
        lines.append(("quarantine", "no"))
    else:
        lines += [
            ("quarantine", explain(quarantine["reason"])),
            ("  since", str(quarantine["since"])),
            ("  next attempt", str(quarantine["nextAttempt"])),
        ]
        if quarantine["detail"]:
            lines.append(("  detail", str(quarantine["detail"])))
    lines.append(("staged deletions", str(info["stagedDeletions"])))
    escrowed = str(info["escrowed"])
    if info["escrowNextRetry"]:
        escrowed += f" (next retry {info['escrowNextRetry']})"
    lines.append(("escrowed", escrowed))
    lines.append(("disabled", info["disabled"] or "no"))
    emails = str(info["emailsPending"])
    if info["emailsPending"]:
        emails += f" (since {info['emailsPendingSince']}; last error: {info['emailError']})"
    lines.append(("e-mails pending", emails))
    return lines


@sync.command("status")
@JOB_ARGUMENT
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for machines.")
def status(job_path: Path, as_json: bool) -> None:
    """Current cycle's progress, links, last cycle and quarantine, as aligned lines."""
    info = _status(_load(job_path))
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    lines = _status_lines(info)
    width = max(len(label) for label, _ in lines) + 2
    for label, value in lines:
        click.echo(f"{label + ':':<{width}}{value}")


@sync.command("logs")
@JOB_ARGUMENT
@click.option("--json", "as_json", is_flag=True, help="One JSON document per line.")
@click.option("--user", "user", default=None, help="Only entries of this UPN or source id.")
@click.option(
    "--status",
    "wanted",
    type=click.Choice(["success", "failure", "skipped", "warning"]),
    default=None,
)
@click.option("--cycle", "cycle", default=None, help="Only entries of this cycle id.")
def logs(
    job_path: Path, as_json: bool, user: str | None, wanted: str | None, cycle: str | None
) -> None:
    """Provisioning log: one entry per object per cycle."""
    job = _load(job_path)
    for entry in FileLogSink(job.log_path).read():
        source = entry.get("sourceIdentity") or {}
        if user and user.lower() not in {
            str(source.get("displayName", "")).lower(),
            str(source.get("id", "")).lower(),
        }:
            continue
        if wanted and entry.get("status") != wanted:
            continue
        if cycle and entry.get("cycleId") != cycle:
            continue
        click.echo(json.dumps(entry) if as_json else render_entry(entry))


@sync.command("on-demand")
@JOB_ARGUMENT
@click.argument("user", metavar="USER")
@click.option("--json", "as_json", is_flag=True, help="The steps and log entries as JSON.")
@click.pass_context
def on_demand(ctx: click.Context, job_path: Path, user: str, as_json: bool) -> None:
    """Provision one user now (source id, UPN or mail) and print each step, as Entra does."""
    job = _load(job_path)
    transport = _transport(ctx)

    async def provision() -> OnDemandResult:
        async with _client(job, transport, dry_run=False) as client:
            return await provision_on_demand(_runner(job, client, dry_run=False), user)

    result = _run(provision)
    if as_json:
        steps = [
            {"name": s.name, "status": s.status, "description": s.description, **s.details}
            for s in result.steps
        ]
        click.echo(json.dumps({"steps": steps, "entries": result.entries}, default=str))
    else:
        _print_on_demand(result)
    if result.status == "failure":
        raise SyncCliError(f"on-demand provisioning of {user} failed")


@sync.command("allow-deletes")
@JOB_ARGUMENT
def allow_deletes(job_path: Path) -> None:
    """Let the next cycle run the disables/deletes the threshold held back."""
    job = _load(job_path)
    store = FileSyncState(job.state_path)
    state = store.load()
    state.allow_deletes = True
    store.save(state)
    click.echo(f"the next cycle will run {len(state.staged)} staged deletions")


@sync.command("restart")
@JOB_ARGUMENT
@click.option("--full", is_flag=True, help="Also forget links: every object is matched again.")
def restart(job_path: Path, full: bool) -> None:
    """Clear the watermark, staged deletions and quarantine; the next cycle is initial."""
    job = _load(job_path)
    store = FileSyncState(job.state_path)
    state = store.load()
    if full:
        state.links.clear()
    state.watermark = None
    state.staged = []
    state.allow_deletes = False
    state.quarantine = None
    state.failed_cycles = 0
    state.escrows.clear()
    state.disabled = None
    store.save(state)
    click.echo("state cleared; the next cycle is initial" + (" (links dropped)" if full else ""))
