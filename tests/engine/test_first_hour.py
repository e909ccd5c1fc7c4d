"""The engine's first hour (issue 26): plans that save nothing, codes in words, readable status,
the next cycle's time, connection errors that say where and why, and the shipped examples."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from hostsync.cli.sync import sync
from hostsync.config import Settings
from hostsync.engine import client as client_module
from hostsync.engine import errors, planner
from hostsync.engine.codes import explain, reason_for
from hostsync.engine.errors import EngineError, StopSync, TransientError
from hostsync.engine.ports import Kind
from hostsync.engine.runner import CycleReport
from hostsync.engine.schedule import describe_next, run_cycles
from hostsync.engine.state import FileSyncState
from hostsync.store.database import Database
from hostsync.web.app import create_app
from tests.engine.conftest import FIXTURES, TENANT_URL, VirtualClock

sync_cli = importlib.import_module("hostsync.cli.sync")  # the module, not the click group
EXAMPLES = Path(__file__).parent.parent.parent / "docs" / "examples"
DEMO_URL = "http://127.0.0.1:8000/v1/usersync/SCIM"

Invoke = Callable[..., Result]


@pytest.fixture
def job(tmp_path: Path) -> Path:
    """The minimal fixture job pointed at the in-process test tenant."""
    shutil.copy(FIXTURES / "directory.json", tmp_path / "directory.json")
    text = (FIXTURES / "minimal-job.toml").read_text()
    path = tmp_path / "job.toml"
    path.write_text(text.replace(DEMO_URL, TENANT_URL))
    return path


@pytest.fixture
def invoke(database: Database, settings: Settings, api_key: str) -> Invoke:
    """Run ``hostsync sync …`` in-process; ``token=`` overrides the Secret Token."""
    transport = httpx.ASGITransport(app=create_app(settings, database))

    def run(*args: str, token: str = api_key) -> Result:
        return CliRunner().invoke(
            sync,
            list(args),
            obj={"sync_transport": transport},
            env={"HOSTSYNC_TARGET_TOKEN": token},
        )

    return run


def _state_bytes(job: Path) -> bytes | None:
    path = job.with_name(job.name + ".state.json")
    return path.read_bytes() if path.exists() else None


def _log_bytes(job: Path) -> bytes | None:
    path = job.with_name(job.name + ".log.jsonl")
    return path.read_bytes() if path.exists() else None


# ---------------------------------------------------------------- plan saves nothing


@pytest.mark.parametrize("command", [("plan",), ("run", "--dry-run")])
def test_plan_with_a_missing_source_saves_nothing_and_fails_clearly(
    job: Path, invoke: Invoke, command: tuple[str, ...]
) -> None:
    """plan / run --dry-run with an unreadable source: exit 2, a clear line, and the state and
    log files byte-identical (no quarantine), absent if they were absent."""
    (job.parent / "directory.json").rename(job.parent / "moved.json")
    fresh = invoke(*command, str(job))
    assert fresh.exit_code == 2
    assert "plan failed, nothing was sent or saved: cannot read" in fresh.output
    assert _state_bytes(job) is None and _log_bytes(job) is None

    (job.parent / "moved.json").rename(job.parent / "directory.json")
    assert invoke("run", "--once", str(job)).exit_code == 0
    before = (_state_bytes(job), _log_bytes(job))
    (job.parent / "directory.json").unlink()
    failed = invoke(*command, str(job))
    assert failed.exit_code == 2
    assert "nothing was sent or saved" in failed.output
    assert (_state_bytes(job), _log_bytes(job)) == before
    assert FileSyncState(job.with_name("job.toml.state.json")).load().quarantine is None


@pytest.mark.parametrize("command", [("plan",), ("run", "--dry-run")])
def test_plan_with_a_refused_token_saves_nothing_and_names_the_cause(
    job: Path, invoke: Invoke, command: tuple[str, ...]
) -> None:
    """plan / run --dry-run with a wrong Secret Token: exit 2, the message says the token is
    wrong or revoked, and the state file is untouched (no 6-hour quarantine)."""
    wrong = invoke(*command, str(job), token="not-a-key")
    assert wrong.exit_code == 2
    assert "the Secret Token is wrong or revoked" in wrong.output
    assert _state_bytes(job) is None

    assert invoke("run", "--once", str(job)).exit_code == 0
    before = (_state_bytes(job), _log_bytes(job))
    unchanged = invoke(*command, str(job), token="not-a-key")  # an incremental plan: no look-up
    assert unchanged.exit_code == 2
    assert "the Secret Token is wrong or revoked" in unchanged.output
    assert (_state_bytes(job), _log_bytes(job)) == before
    assert invoke("restart", str(job)).exit_code == 0  # initial again: every link is read
    before = (_state_bytes(job), _log_bytes(job))
    refused = invoke(*command, str(job), token="not-a-key")
    assert refused.exit_code == 2
    assert f"HTTP 401 from GET {TENANT_URL}/Users" in refused.output
    assert (_state_bytes(job), _log_bytes(job)) == before


# ---------------------------------------------------------------- codes in words


def _subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found


def test_every_code_the_engine_prints_has_a_plain_language_reason() -> None:
    """Skip reasons, error codes and quarantine reasons all have an entry in engine.codes."""
    codes = {reason.value for reason in planner.Reason} | {planner.ESCROWED}
    codes |= {cls.code for cls in _subclasses(errors.SyncError)}
    engine = Path(planner.__file__ or "").parent
    text = "\n".join(path.read_text() for path in engine.glob("*.py"))
    codes |= set(re.findall(r'(?:code=|skip_reason=|_quarantine\(state, )"([A-Za-z]+)"', text))
    # planner.Skip / planner.Failure codes, passed positionally
    codes |= {"NotManaged", "HardDeletesOff", "SkipOutOfScopeDeletions", "NoActiveMapping"}
    codes |= {"RedundantExport", "ImportSkipped", "LookupFailed", "DuplicateTargetEntries"}
    codes |= {"ExpressionError", "Unauthorized", "InsufficientRights", "MethodNotAllowed"}
    missing = sorted(code for code in codes if reason_for(code) is None)
    assert missing == []
    assert explain("NotEffectivelyEntitled").startswith("NotEffectivelyEntitled — not assigned")
    assert explain("SomethingNew") == "SomethingNew"


def test_plan_logs_and_status_print_codes_with_their_reason(job: Path, invoke: Invoke) -> None:
    """sync plan, sync logs and sync status print each Entra code with its reason beside it."""
    plan = invoke("plan", str(job))
    assert plan.exit_code == 0, plan.output
    assert "(skip: NotEffectivelyEntitled — not assigned to the application" in plan.output
    assert invoke("run", "--once", str(job)).exit_code == 0
    logs = invoke("logs", str(job), "--status", "skipped")
    assert "skipReason: NotEffectivelyEntitled — not assigned" in logs.output
    assert "skipReason: AccountDisabled — the account is disabled" in logs.output

    (job.parent / "directory.json").unlink()  # a real run: the source error quarantines
    assert invoke("run", "--once", str(job)).exit_code == 2
    status = invoke("status", str(job))
    assert re.search(
        r"^quarantine: +EncounteredQuarantineException — a cycle failed as a whole",
        status.output,
        re.M,
    )


# ---------------------------------------------------------------- status


def test_status_prints_aligned_label_value_lines_and_json_for_machines(
    job: Path, invoke: Invoke
) -> None:
    """sync status: one 'label: value' line each, values in one column, no dict, no None;
    --json gives the same facts as one JSON document."""
    empty = invoke("status", str(job))
    assert empty.exit_code == 0
    assert "None" not in empty.output and "{" not in empty.output
    assert invoke("run", "--once", str(job)).exit_code == 0
    shown = invoke("status", str(job))
    lines = shown.output.splitlines()
    assert "None" not in shown.output and "{" not in shown.output
    columns = {len(re.match(r"^ *[^:]+: +", line).group(0)) for line in lines}  # type: ignore[union-attr]
    assert len(columns) == 1
    assert re.search(r"^last cycle: +Succeeded \(initial\), ended .*requests$", shown.output, re.M)
    assert re.search(r"^quarantine: +no$", shown.output, re.M)
    document = json.loads(invoke("status", str(job), "--json").output)
    assert document["users"] == 3 and document["quarantine"] is None
    assert document["lastCycle"]["state"] == "Succeeded"


# ---------------------------------------------------------------- the loop


def test_next_cycle_is_described_in_utc_with_the_wait() -> None:
    """The loop's message names the next cycle's time in UTC and how long until then."""
    now = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
    assert describe_next(now + timedelta(minutes=40), now) == "next cycle at 14:40 UTC (in 40 min)"
    assert describe_next(now + timedelta(hours=6), now) == "next cycle at 20:00 UTC (in 6 h)"
    assert describe_next(now + timedelta(hours=24), now) == (
        "next cycle at 2025-01-07 14:00 UTC (in 24 h)"
    )


async def test_run_cycles_tells_when_the_next_cycle_runs(tmp_path: Path) -> None:
    """run_cycles calls on_wait with the due time before each wait."""
    now = datetime(2025, 1, 6, 14, 0, tzinfo=UTC)
    waits: list[tuple[datetime, datetime]] = []

    async def cycle() -> CycleReport:
        return CycleReport("c", "incremental", "", state="Succeeded")

    async def sleep(seconds: float) -> None:
        return None

    await run_cycles(
        cycle,
        FileSyncState(tmp_path / "state.json"),
        interval=timedelta(minutes=40),
        now=lambda: now,
        sleep=sleep,
        on_wait=lambda due, at: waits.append((due, at)),
        max_cycles=2,
    )
    assert waits == [(now + timedelta(minutes=40), now)]


def test_sync_run_prints_the_next_cycle_time(
    job: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sync run`` (the loop) prints 'next cycle at HH:MM UTC (in 40 min)' after a cycle."""

    async def stop(*_: object, **__: object) -> None:
        raise EngineError("stopped by the test")

    monkeypatch.setattr(sync_cli, "sleep_retrying", stop)
    result = invoke("run", str(job))
    assert "(initial): Succeeded" in result.output
    assert re.search(r"^next cycle at \d\d:\d\d UTC \(in 40 min\)$", result.output, re.M)


# ---------------------------------------------------------------- connection errors


def _failing_client(error: Exception | httpx.Response) -> client_module.ScimClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(error, httpx.Response):
            return httpx.Response(error.status_code, json=json.loads(error.content))
        raise error

    clock = VirtualClock()
    return client_module.ScimClient(
        "https://scim.example.com/v1/usersync/SCIM",
        "secret",
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        rate=0,
        max_retries=0,
        timeout=7,
    )


def _tls_error() -> httpx.ConnectError:
    try:
        raise ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
    except ssl.SSLError as inner:
        try:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from inner
        except httpx.ConnectError as outer:
            return outer


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "is the server running"),
        (_tls_error(), "TLS certificate is not trusted"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "does not resolve"),
        (httpx.ReadTimeout("timed out"), "no answer within 7 s"),
    ],
    ids=["refused", "tls", "dns", "timeout"],
)
async def test_connection_errors_name_the_url_and_the_likely_cause(
    error: Exception, cause: str
) -> None:
    """A request that gets no answer names the full URL and what probably went wrong."""
    async with _failing_client(error) as client:
        with pytest.raises(TransientError) as caught:
            await client.find(Kind.USER, "userName", "ana")
    assert "GET https://scim.example.com/v1/usersync/SCIM/Users" in caught.value.reason
    assert cause in caught.value.reason


async def test_a_401_names_the_url_and_says_the_token_is_wrong_or_revoked() -> None:
    """401: 'the Secret Token is wrong or revoked', with the URL that said so."""
    answer = httpx.Response(401, json={"detail": "invalid credentials"})
    async with _failing_client(answer) as client:
        with pytest.raises(StopSync) as caught:
            await client.find(Kind.USER, "userName", "ana")
    reason = caught.value.reason
    assert "https://scim.example.com/v1/usersync/SCIM/Users" in reason
    assert "invalid credentials" in reason and "the Secret Token is wrong or revoked" in reason


# ---------------------------------------------------------------- docs/examples


def test_the_shipped_examples_plan_and_provision(tmp_path: Path, invoke: Invoke) -> None:
    """docs/examples/job.toml and its three-user export plan one create and two explained
    skips, and run --once creates exactly the assigned user."""
    for name in ("job.toml", "directory.json"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    job = tmp_path / "job.toml"
    text = job.read_text()
    assert DEMO_URL in text
    job.write_text(text.replace(DEMO_URL, TENANT_URL))
    plan = invoke("plan", str(job))
    assert plan.exit_code == 0, plan.output
    assert "create   User  ana@contoso.com" in plan.output
    assert "bob@contoso.com  (skip: NotEffectivelyEntitled — not assigned" in plan.output
    assert "cy@contoso.com  (skip: " in plan.output
    assert "dry run: 3 actions planned, none sent" in plan.output
    run = invoke("run", "--once", str(job))
    assert run.exit_code == 0, run.output
    assert "create:success=1" in run.output
