"""The server's own chores: end-of-day check-out and retention run in its lifespan.

The chores run in a worker thread on a timer; a failing pass is logged and the next one
runs. The activity log names the server, and how many visits, never the visitor.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from hostsync.config import Settings
from hostsync.frontdesk.retention import ANONYMISED_NAME, END_OF_DAY_BY
from hostsync.frontdesk.sites import Site
from hostsync.store.admin_tables import activity
from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.store.frontdesk.retention import check_out_at_end_of_day
from hostsync.store.frontdesk.sites import update_site
from hostsync.web.app import create_app
from hostsync.web.lifecycle import VisitChores
from tests.frontdesk.test_retention_store import row, visit


def _activity(database: Database, tenant_id: str) -> list[tuple[str, str, str | None]]:
    with database.connect(write=False) as connection:
        rows = connection.execute(
            select(activity.c.actor, activity.c.operation, activity.c.detail)
            .where(activity.c.tenant_id == tenant_id)
            .order_by(activity.c.pk)
        )
        return [(r.actor, r.operation, r.detail) for r in rows]


async def test_the_server_checks_out_and_anonymises_on_its_own(
    database: Database, site: Site
) -> None:
    with database.connect(write=True) as connection:
        site = update_site(connection, site.tenant_id, site.id, end_of_day="18:00")
    yesterday = now() - timedelta(days=1)
    stayed = visit(database, site, "Left Behind", at=yesterday.replace(hour=6))
    ancient = visit(database, site, "Old Timer", email="old@example.com", at=now() - timedelta(400))
    app = create_app(Settings(frontdesk_chores_seconds=0.05), database)
    async with app.router.lifespan_context(app):
        for _ in range(100):
            await asyncio.sleep(0.05)
            if row(database, stayed).checked_out_at and row(database, ancient).anonymised_at:
                break
    left = row(database, stayed)
    assert left.checked_out_by == END_OF_DAY_BY
    assert left.checked_out_at.date() == yesterday.date()  # yesterday's 18:00 in Paris
    assert row(database, ancient).visitor_name == ANONYMISED_NAME
    logged = _activity(database, site.tenant_id)
    assert (
        "server (retention)",
        "anonymise",
        "1 visit(s) older than 365 days anonymised",
    ) in logged
    assert "Old Timer" not in str(logged) and "old@example.com" not in str(logged)


def test_a_failing_pass_is_logged_and_the_next_one_runs(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop survives a pass that raises (an unreachable database, say)."""

    class Flaky(VisitChores):
        passes = 0

        def run_once(self) -> object:  # type: ignore[override]
            Flaky.passes += 1
            if Flaky.passes == 1:
                raise RuntimeError("database unreachable")
            return super().run_once()

    async def scenario() -> None:
        task = asyncio.create_task(Flaky(database, 0.01).run())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if Flaky.passes >= 2:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.WARNING, logger="hostsync.web.lifecycle"):
        asyncio.run(scenario())
    assert Flaky.passes >= 2
    assert "front desk chores failed" in caplog.text


def test_a_site_is_read_again_at_its_next_end_of_day(database: Database, site: Site) -> None:
    """The memory of a site's last end of day spares reads, not tomorrow's check-outs."""
    with database.connect(write=True) as connection:
        site = update_site(connection, site.tenant_id, site.id, end_of_day="12:00")
    done: dict[str, datetime] = {}
    first = visit(database, site, "First", at=datetime(2024, 6, 3, 8, 0))  # 10:00 in Paris
    monday = datetime(2024, 6, 3, 11, 0)
    assert check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=monday, done=done)
    assert done[site.id] == datetime(2024, 6, 3, 10, 0)
    second = visit(database, site, "Second", at=datetime(2024, 6, 4, 8, 0))
    tuesday = datetime(2024, 6, 4, 11, 0)
    assert (
        check_out_at_end_of_day(database, tenant_id=site.tenant_id, moment=tuesday, done=done) == 1
    )
    assert row(database, first).checked_out_at == datetime(2024, 6, 3, 10, 0)
    assert row(database, second).checked_out_at == datetime(2024, 6, 4, 10, 0)
