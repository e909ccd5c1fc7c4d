"""Engine fixtures: a job directory, and a live hostsync server reached in-process."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.engine.client import ScimClient
from hostsync.engine.jobs import Job, load_job
from hostsync.engine.notify import Mailer
from hostsync.engine.progress import ProgressSink
from hostsync.engine.runner import Runner
from hostsync.engine.wiring import runner_for
from hostsync.store.database import Database
from hostsync.web.app import create_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "engine"
TENANT_URL = f"http://testserver{SCIM_PREFIX}"


@dataclass
class JobDir:
    """A job file and its Graph-shaped source in a temporary directory."""

    path: Path
    directory: Path

    def source(self) -> dict[str, Any]:
        return json.loads(self.directory.read_text())

    def write_source(self, document: dict[str, Any]) -> None:
        self.directory.write_text(json.dumps(document))

    def user(self, document: dict[str, Any], user_id: str) -> dict[str, Any]:
        return next(u for u in document["users"] if u["id"] == user_id)

    def write_job(self, extra: str = "", token: str = "unused") -> Job:  # noqa: S107
        self.path.write_text(
            f'scope = "assigned"\n'
            f"{extra}\n"
            f"[target]\n"
            f'tenant_url = "{TENANT_URL}"\n'
            f'secret_token = "{token}"\n'
            f"[source]\n"
            f'type = "graph-json"\n'
            f'path = "directory.json"\n'
        )
        return load_job(self.path)


@pytest.fixture
def job_dir(tmp_path: Path) -> JobDir:
    """A temporary copy of the fixture directory export."""
    directory = tmp_path / "directory.json"
    shutil.copy(FIXTURES / "directory.json", directory)
    return JobDir(tmp_path / "job.toml", directory)


@dataclass
class Target:
    """The hostsync server under test and an admin client of it."""

    transport: httpx.AsyncBaseTransport
    api_key: str
    http: httpx.AsyncClient

    async def users(self) -> list[dict[str, Any]]:
        response = await self.http.get("/Users", params={"count": "1000"})
        return list(response.json()["Resources"])

    async def user(self, user_name: str) -> dict[str, Any] | None:
        response = await self.http.get("/Users", params={"filter": f'userName eq "{user_name}"'})
        resources = response.json()["Resources"]
        return resources[0] if resources else None

    async def group(self, name: str) -> dict[str, Any] | None:
        response = await self.http.get("/Groups", params={"filter": f'displayName eq "{name}"'})
        resources = response.json()["Resources"]
        return resources[0] if resources else None


@pytest.fixture
async def target(database: Database, settings: Settings, api_key: str) -> AsyncIterator[Target]:
    """A live hostsync app (fresh tenant) behind an in-process transport."""
    transport = httpx.ASGITransport(app=create_app(settings, database))
    async with httpx.AsyncClient(
        transport=transport,
        base_url=TENANT_URL,
        headers={"Authorization": f"Bearer {api_key}"},
    ) as http:
        yield Target(transport, api_key, http)


class VirtualClock:
    """A monotonic clock that only moves when someone sleeps: backoff costs no real time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class WallClock:
    """A fake wall clock (the runner's ``now``) whose ``sleep`` moves it forward instantly."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)


def make_runner(
    job: Job,
    transport: httpx.AsyncBaseTransport,
    *,
    dry_run: bool = False,
    mailer: Mailer | None = None,
    clock: VirtualClock | None = None,
    now: WallClock | None = None,
    progress: ProgressSink | None = None,
) -> Runner:
    """A runner over the job's files and the given transport."""
    settings = job.settings
    clock = clock or VirtualClock()
    client = ScimClient(
        job.config.target.tenant_url,
        job.secret_token(),
        dry_run=dry_run,
        rate=0,
        concurrency=settings.concurrency,
        max_retries=settings.max_retries,
        transport=transport,
        sleep=clock.sleep,
        clock=clock,
    )
    return runner_for(
        job,
        client,
        dry_run=dry_run,
        mailer=mailer,
        progress=progress,
        **({"now": now} if now is not None else {}),
    )
