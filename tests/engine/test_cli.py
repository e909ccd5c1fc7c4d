"""``hostsync sync …`` driven through click against an in-process hostsync server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from hostsync.cli.sync import sync
from hostsync.config import Settings
from hostsync.engine.ports import Escrow
from hostsync.engine.state import FileSyncState
from hostsync.store.database import Database
from hostsync.web.app import create_app
from tests.engine.conftest import FIXTURES, TENANT_URL


@pytest.fixture
def job(tmp_path: Path, api_key: str) -> Path:
    """The minimal job pointed at the test tenant, token in the environment."""
    shutil.copy(FIXTURES / "directory.json", tmp_path / "directory.json")
    text = (FIXTURES / "minimal-job.toml").read_text()
    path = tmp_path / "job.toml"
    path.write_text(text.replace("http://127.0.0.1:8000/v1/usersync/SCIM", TENANT_URL))
    return path


@pytest.fixture
def invoke(database: Database, settings: Settings, api_key: str):  # type: ignore[no-untyped-def]
    """Run a sync sub-command with the in-process transport and the token variable set."""
    transport = httpx.ASGITransport(app=create_app(settings, database))

    def run(*args: str) -> object:
        return CliRunner().invoke(
            sync,
            list(args),
            obj={"sync_transport": transport},
            env={"HOSTSYNC_TARGET_TOKEN": api_key},
        )

    return run


def test_run_once_then_status_and_logs(job: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """run --once provisions; status shows the links; logs filter by user and status."""
    result = invoke("run", str(job), "--once")
    assert result.exit_code == 0, result.output
    assert "(initial): Succeeded" in result.output
    status = " ".join(invoke("status", str(job)).output.split())  # values are aligned
    assert "users: 3" in status and "next cycle: incremental" in status
    logs = invoke("logs", str(job), "--json", "--user", "ana@contoso.com")
    entries = [json.loads(line) for line in logs.output.splitlines()]
    # bob (ana's manager) is created first, so ana's POST carries the manager: no PATCH
    assert [e["provisioningAction"] for e in entries] == ["create"]
    assert "manager" in {p["displayName"] for p in entries[0]["modifiedProperties"]}
    skipped = invoke("logs", str(job), "--status", "skipped")
    assert "eve@contoso.com" in skipped.output and "ana@contoso.com" not in skipped.output
    again = invoke("run", str(job), "--once")
    assert "(incremental): Succeeded; nothing to do; 0 requests" in again.output


def test_plan_prints_old_to_new_and_writes_nothing(job: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """plan lists the creates with their values and leaves no state behind."""
    result = invoke("plan", str(job))
    assert result.exit_code == 0, result.output
    assert "create   User  ana@contoso.com" in result.output
    assert "userName: 'ana@contoso.com'" in result.output
    assert "none sent" in result.output
    assert not (job.parent / "job.toml.state.json").exists()


def test_restart_and_allow_deletes_edit_the_state(job: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """restart makes the next cycle initial; allow-deletes sets the flag."""
    invoke("run", str(job), "--once")
    assert "next cycle: initial" in " ".join(
        (invoke("restart", str(job)).output + invoke("status", str(job)).output).split()
    )
    assert invoke("allow-deletes", str(job)).exit_code == 0
    state = json.loads((job.parent / "job.toml.state.json").read_text())
    assert state["allow_deletes"] is True and state["links"]


def test_test_connection_and_bad_job_errors(job: Path, invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """test passes against hostsync; a bad job file exits 2 naming the key."""
    result = invoke("test", str(job))
    assert result.exit_code == 0 and "connection test passed" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(job.read_text().replace("scope", "scop"))
    failed = invoke("run", str(bad), "--once")
    assert failed.exit_code == 2
    assert "bad.toml: scop: unknown key" in failed.output


def test_cli_on_demand_prints_numbered_steps(job: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """``sync on-demand JOB USER`` prints each step; --json gives steps and entries."""
    result = invoke("on-demand", str(job), "cy@contoso.com")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line[:2] in {"1.", "2.", "3.", "4."}]
    assert lines[0].startswith("1. Import user: success")
    assert lines[3].startswith("4. Perform action: success: created ")
    as_json = invoke("on-demand", str(job), "cy@contoso.com", "--json")
    document = json.loads(as_json.output)
    assert document["steps"][3]["status"] == "skipped"
    unknown = invoke("on-demand", str(job), "nobody")
    assert unknown.exit_code == 2
    assert "no user 'nobody' in the source" in unknown.output


def test_disabled_job_refuses_to_run_until_restart(job: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """A job disabled by four weeks of quarantine: run --once exits 2; restart enables it."""
    store = FileSyncState(job.with_name("job.toml.state.json"))
    state = store.load()
    state.disabled = "quarantined since 2025-01-01T00:00:00Z; disabled after 28 days"
    state.escrows["User:u-ana"] = Escrow(3, "2025-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "x")
    store.save(state)
    status = " ".join(invoke("status", str(job)).output.split())  # values are aligned
    assert "disabled: quarantined since" in status
    assert "escrowed: 1 (next retry 2999-01-01T00:00:00Z)" in status
    refused = invoke("run", str(job), "--once")
    assert refused.exit_code == 2 and "cycle disabled" in refused.output
    invoke("restart", str(job))
    after = store.load()
    assert (after.disabled, after.escrows) == (None, {})
    assert invoke("run", str(job), "--once").exit_code == 0
