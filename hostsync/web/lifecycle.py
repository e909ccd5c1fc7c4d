"""The visits' lifecycle in the server: the end-of-day check-out and retention, periodically.

Each server process runs :meth:`VisitChores.run` from the application's lifespan: every
``frontdesk_chores_seconds`` it checks out the visitors still on site after their site's end
of day and, at most once per :data:`ANONYMISE_EVERY` seconds, anonymises the visits past their
tenant's retention period (store/frontdesk/retention.py). The work runs in a worker thread,
never on the event loop; a failure is logged and the next tick tries again, never raised into
the loop. Several processes may run the chores at once: every change is an idempotent update,
and each visit is changed once.

The activity log names the server as the actor of these runs (:data:`SERVER`), with how
many visits each tenant had anonymised (store/activity/erasures.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from hostsync.store.activity.erasures import retention_recorder
from hostsync.store.activity.recording import RequestContext
from hostsync.store.database import Database
from hostsync.store.frontdesk.retention import anonymise_expired, check_out_at_end_of_day

log = logging.getLogger(__name__)

ANONYMISE_EVERY = 3600.0
"""Seconds between two retention runs of one process (retention counts in days)."""
SERVER = RequestContext("JOB", "front desk retention", None, actor="server (retention)")
"""Who the activity log says anonymised visits past the retention period."""


@dataclass(frozen=True, slots=True)
class ChoresDone:
    """What one pass of the chores changed: check-outs, and anonymised visits per tenant."""

    checked_out: int
    anonymised: dict[str, int]


class VisitChores:
    """The end-of-day check-out and retention of one server process."""

    def __init__(self, database: Database, seconds: float) -> None:
        self.database = database
        self.seconds = seconds
        self._next_retention = 0.0
        self._ended: dict[str, datetime] = {}  # each site's end of day last checked out

    def run_once(self) -> ChoresDone:
        """Check out at end of day; anonymise expired visits when that is due."""
        checked_out = check_out_at_end_of_day(self.database, done=self._ended)
        anonymised: dict[str, int] = {}
        moment = time.monotonic()
        if moment >= self._next_retention:
            anonymised = anonymise_expired(self.database, record=retention_recorder(SERVER))
            self._next_retention = moment + ANONYMISE_EVERY  # a failure retries next tick
        return ChoresDone(checked_out, anonymised)

    async def run(self) -> None:
        """Run the chores every ``seconds`` until cancelled; a failure waits for the next tick."""
        while True:
            await asyncio.sleep(self.seconds)
            try:
                await run_in_threadpool(self.run_once)
            except Exception:  # a busy or unreachable database: the next tick tries again
                log.warning("front desk chores failed; retrying at the next tick", exc_info=True)
