"""``sync on-demand`` (Entra's Provision on demand) and progress lines on long work."""

from __future__ import annotations

import io

from hostsync.engine.on_demand import provision_on_demand
from hostsync.engine.ports import Kind
from hostsync.engine.progress import Progress
from hostsync.engine.state import FileLogSink, FileSyncState
from tests.engine.conftest import JobDir, Target, make_runner


async def test_on_demand_creates_one_user_and_reports_each_step(
    job_dir: JobDir, target: Target
) -> None:
    """Ana alone is created; the steps are import, scope, match, action; state and log kept."""
    job = job_dir.write_job(token=target.api_key)
    result = await provision_on_demand(make_runner(job, target.transport), "ANA@contoso.com")
    names = [(s.name, s.status) for s in result.steps]
    assert names == [
        ("Import user", "success"),
        ("Determine scope", "success"),
        ("Match user", "success"),
        ("Perform action", "success"),
    ]
    assert "will be created" in result.steps[2].description
    assert result.steps[1].details["Assigned"] == "True"
    action = result.steps[3]
    assert action.details["action"] == "create"
    assert action.details["modifiedProperties"]["userName"]["new"] == "ana@contoso.com"
    assert [u["userName"] for u in await target.users()] == ["ana@contoso.com"]
    state = FileSyncState(job.state_path).load()
    link = state.link(Kind.USER, "u-ana")
    assert link is not None and link.target_id == action.details["targetId"]
    assert state.watermark is None  # the next cycle is still the initial one
    entries = FileLogSink(job.log_path).read()
    assert [e["provisioningAction"] for e in entries] == ["create", "update"]
    assert entries[1]["skipReason"] == "ManagerNotProvisioned"
    assert entries[0]["initiatedBy"]["initiatorType"] == "user"
    again = await provision_on_demand(make_runner(job, target.transport), "u-ana")
    assert "matched target user" in again.steps[2].description
    assert again.steps[3].status == "skipped"
    report = await make_runner(job, target.transport).run_cycle()
    creates = [
        e["sourceIdentity"]["id"] for e in report.entries if e["provisioningAction"] == "create"
    ]
    assert sorted(creates) == ["g-hosts", "u-bob", "u-cy"]  # ana is not created twice


async def test_on_demand_out_of_scope_and_unknown_users(job_dir: JobDir, target: Target) -> None:
    """Default Access → scope skipped, nothing sent; an unknown user fails the import step."""
    job = job_dir.write_job(token=target.api_key)
    dee = await provision_on_demand(make_runner(job, target.transport), "dee@contoso.com")
    assert [s.status for s in dee.steps] == ["success", "skipped", "skipped", "skipped"]
    assert "NotEffectivelyEntitled" in dee.steps[1].description
    assert dee.status == "success"
    assert await target.users() == []
    missing = await provision_on_demand(make_runner(job, target.transport), "zed@contoso.com")
    assert [(s.name, s.status) for s in missing.steps] == [("Import user", "failure")]
    assert missing.status == "failure"


async def test_on_demand_disables_a_provisioned_user_who_was_unassigned(
    job_dir: JobDir, target: Target
) -> None:
    """After a cycle, bob is unassigned in the source: on-demand disables him at once."""
    job = job_dir.write_job(token=target.api_key)
    await make_runner(job, target.transport).run_cycle()
    document = job_dir.source()
    document["appRoleAssignments"] = [
        a for a in document["appRoleAssignments"] if a["principalId"] != "u-bob"
    ]
    job_dir.write_source(document)
    result = await provision_on_demand(make_runner(job, target.transport), "bob@contoso.com")
    assert result.steps[3].details["action"] == "disable"
    bob = await target.user("bob@contoso.com")
    assert bob is not None and bob["active"] is False


async def test_on_demand_bad_token_shows_a_failed_test_connection_step(
    job_dir: JobDir, target: Target
) -> None:
    """A 401 turns into a failed first step, as Entra shows Test connection only on failure."""
    job = job_dir.write_job(token="hsk_wrong")
    result = await provision_on_demand(make_runner(job, target.transport), "ana@contoso.com")
    assert (result.steps[0].name, result.steps[0].status) == ("Test connection", "failure")
    assert "401" in result.steps[0].description


class Ticks:
    """A monotonic clock advanced by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_prints_every_n_objects_or_every_two_seconds() -> None:
    """Plain lines: one per 100 objects or 2 s, and a last one; done/total, rate and ETA."""
    out, ticks = io.StringIO(), Ticks()
    progress = Progress(out, every=100, seconds=2.0, minimum=10, tty=False, clock=ticks)
    progress.start("provision", 250)
    for _ in range(150):
        ticks.now += 0.001
        progress.advance()
    ticks.now += 5  # a slow stretch: the 2-second rule prints the next one
    progress.advance()
    for _ in range(99):
        progress.advance()
    progress.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "provision: 100/250 (40%) 1,000/s ETA 0:00"
    assert lines[1].startswith("provision: 151/250 (60%) 29/s ETA 0:03")
    assert lines[-1].startswith("provision: 250/250 (100%)") and " in 0:05" in lines[-1]
    assert len(lines) == 3


def test_progress_rewrites_one_line_on_a_tty_and_stays_quiet_for_small_work() -> None:
    """On a terminal lines start with a carriage return; phases under the minimum print nothing."""
    out = io.StringIO()
    progress = Progress(out, every=1, minimum=3, tty=True, clock=Ticks())
    progress.start("look-up", 2)
    progress.advance(2)
    progress.finish()
    assert out.getvalue() == ""
    progress.start("look-up", 3)
    progress.advance(3)
    progress.finish()
    assert out.getvalue().startswith("\r\x1b[Klook-up: 3/3 (100%)")
    assert out.getvalue().endswith("\n")


async def test_a_cycle_reports_look_up_and_provision_progress(
    job_dir: JobDir, target: Target
) -> None:
    """The runner reports every look-up and every action, ending at total/total."""
    job = job_dir.write_job(token=target.api_key)
    progress = Progress(io.StringIO(), every=1, minimum=1, tty=False)
    report = await make_runner(job, target.transport, progress=progress).run_cycle()
    assert report.plan is not None
    total = len(report.plan.actions())
    assert progress.lines[-1].startswith(f"provision: {total}/{total} (100%)")
    assert any(line.startswith("look-up: 4/4 (100%)") for line in progress.lines)
