"""What each authenticated SCIM request leaves behind: a count, and a row if it failed.

Requests are counted per tenant and hour in memory and flushed in batches
(:class:`~hostsync.store.activity.counting.RequestCounter`); a failure is recorded in a short
transaction of its own, since its unit of work rolled back.
"""

from __future__ import annotations

from hostsync.store.activity.counting import RequestCounter
from hostsync.store.activity.recording import RequestContext
from hostsync.store.activity.records import record_failure
from hostsync.store.database import Database
from hostsync.web.scheduling import Scheduler


class Outcomes:
    """Counts every answered request and records every failed one."""

    def __init__(self, database: Database, scheduler: Scheduler, counter: RequestCounter) -> None:
        self.database = database
        self.scheduler = scheduler
        self.counter = counter

    async def answered(self, tenant_id: str, status: int) -> None:
        """Count a request the service answered (as failed from status 400 on)."""
        if self.counter.count(tenant_id, failed=status >= 400):
            await self._flush()

    async def failed(
        self,
        tenant_id: str,
        context: RequestContext,
        status: int,
        detail: str,
        *,
        resource_type: str | None,
        resource_id: str | None,
    ) -> None:
        """Count a request that raised, and record its failure in the activity log."""
        if self.counter.count(tenant_id, failed=True):
            await self._flush()
        await self.scheduler.run(
            lambda: record_failure(
                self.database,
                tenant_id,
                context,
                status,
                detail,
                resource_type=resource_type,
                resource_id=resource_id,
            )
        )

    async def _flush(self) -> None:
        await self.scheduler.run(lambda: self.counter.flush(self.database))
