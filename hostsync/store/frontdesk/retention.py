"""Retention, erasure and the end-of-day check-out: the visits' lifecycle chores.

The rules are :mod:`hostsync.frontdesk.retention`'s; this module applies them.

- Every function takes or names the tenant and filters by it (the server's chores go tenant
  by tenant, site by site): another tenant's visits are never read, changed or counted.
- The chores work in batches of at most :data:`BATCH` visits, each in a short write
  transaction of its own, so none holds SQLite's writer for long: other tenants' requests
  take their turns between batches.
- Every change is an idempotent ``UPDATE`` guarded by the state it changes
  (``anonymised_at IS NULL``, ``checked_out_at IS NULL``): several server processes may run
  the same chore at once, and each visit is changed once; counts are the rows each process
  actually changed.
- Nothing is deleted: anonymising blanks the visitor's name (the placeholder
  :data:`~hostsync.frontdesk.retention.ANONYMISED_NAME` stays), company, e-mail address and
  their folded copies, and sets ``anonymised_at``; the host, the site and the times stay.
- The activity log is the caller's (the store's activity package sits above this one): a
  :data:`Recorder` the caller passes is called inside the transaction of a tenant's last
  batch, with how many visits the run changed, so the audit row commits with that batch. It
  is never given the erased personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hostsync.frontdesk.retention import (
    ANONYMISED_NAME,
    DEFAULT_RETENTION_DAYS,
    END_OF_DAY_BY,
    first_end_of_day_after,
    last_end_of_day,
    retention_cutoff,
)
from hostsync.store.clock import now
from hostsync.store.frontdesk.tables import frontdesk_settings, sites, visits
from hostsync.store.tables import tenants

log = logging.getLogger(__name__)

BATCH = 500
"""Most visits one write transaction of a chore changes."""

Recorder = Callable[[Connection, str, int], None]
"""``record(connection, tenant_id, visits)``: audit a run, in its last transaction."""

_ANONYMISED = {
    "visitor_name": ANONYMISED_NAME,
    "visitor_name_folded": ANONYMISED_NAME.casefold(),
    "visitor_company": None,
    "visitor_email": None,
    "visitor_email_folded": None,
}


class Units(Protocol):
    """Where transactions come from: :class:`hostsync.store.database.Database`."""

    def connect(self, *, write: bool) -> AbstractContextManager[Connection]:
        """A transaction, committed when the block ends."""
        ...


@dataclass(frozen=True, slots=True)
class ErasureTarget:
    """Whose visits an erasure anonymises: an e-mail address (folded), else one visit."""

    email: str | None
    visit_id: str | None
    visits: int


def retention_days_of(connection: Connection, tenant_id: str) -> int:
    """The tenant's retention period in days (the default when it never set one)."""
    days = connection.execute(
        select(frontdesk_settings.c.retention_days).where(
            frontdesk_settings.c.tenant_id == tenant_id
        )
    ).scalar()
    return DEFAULT_RETENTION_DAYS if days is None else int(days)


def set_retention_days(connection: Connection, tenant_id: str, days: int) -> int:
    """Set the tenant's retention period (days checked by the caller); return the previous.

    The tenant's other front-desk settings are left as they are (an upsert of this column).
    """
    previous = retention_days_of(connection, tenant_id)
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(frontdesk_settings).values(
        tenant_id=tenant_id, retention_days=days, modified_at=now()
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"retention_days": days, "modified_at": statement.excluded.modified_at},
        )
    )
    return previous


def anonymise_expired(
    units: Units,
    *,
    tenant_id: str | None = None,
    moment: datetime | None = None,
    record: Recorder | None = None,
    batch: int = BATCH,
) -> dict[str, int]:
    """Anonymise the visits older than their tenant's retention period (one tenant, or all).

    Return how many visits each tenant had anonymised by this call (tenants with none are
    left out); ``record`` hears of each such tenant.
    """
    moment = moment or now()
    with units.connect(write=False) as connection:
        plan = _retention_plan(connection, tenant_id)
    done: dict[str, int] = {}
    for tenant, days in plan:
        condition = [
            visits.c.tenant_id == tenant,
            visits.c.anonymised_at.is_(None),
            visits.c.checked_in_at < retention_cutoff(moment, days),
        ]
        count = _in_batches(units, tenant, condition, moment, batch, record, audit_none=False)
        if count:
            done[tenant] = count
    return done


def _retention_plan(connection: Connection, tenant_id: str | None) -> list[tuple[str, int]]:
    statement = select(tenants.c.id, frontdesk_settings.c.retention_days).select_from(
        tenants.outerjoin(frontdesk_settings, frontdesk_settings.c.tenant_id == tenants.c.id)
    )
    if tenant_id is not None:
        statement = statement.where(tenants.c.id == tenant_id)
    rows = connection.execute(statement.order_by(tenants.c.id))
    return [(row.id, DEFAULT_RETENTION_DAYS if row[1] is None else int(row[1])) for row in rows]


def _in_batches(
    units: Units,
    tenant_id: str,
    condition: Sequence[Any],
    moment: datetime,
    batch: int,
    record: Recorder | None,
    *,
    audit_none: bool,
) -> int:
    """Anonymise the tenant's visits matching ``condition``, ``batch`` per transaction.

    Each batch is found by a read (no writer held) and changed by a write transaction of
    updates alone; the last one also carries ``record``'s row.
    """
    total = 0
    while True:
        with units.connect(write=False) as connection:
            keys = list(
                connection.execute(select(visits.c.pk).where(*condition).limit(batch)).scalars()
            )
        last = len(keys) < batch
        if not keys and (record is None or not (total or audit_none)):
            return total
        with units.connect(write=True) as connection:
            if keys:
                result = connection.execute(
                    update(visits)
                    .where(
                        visits.c.tenant_id == tenant_id,
                        visits.c.pk.in_(keys),
                        visits.c.anonymised_at.is_(None),
                    )
                    .values(anonymised_at=moment, **_ANONYMISED)
                )
                total += int(result.rowcount or 0)
            if last and record is not None and (total or audit_none):
                record(connection, tenant_id, total)
        if last:
            return total


def erasure_by_email(connection: Connection, tenant_id: str, email: str) -> ErasureTarget:
    """What erasing the visitor of this (folded) address would anonymise in the tenant."""
    return ErasureTarget(email, None, _count(connection, tenant_id, email=email))


def erasure_of_visit(connection: Connection, tenant_id: str, visit_id: str) -> ErasureTarget | None:
    """What erasing the visitor of one of the tenant's visits would anonymise; None if unknown.

    A visit with an e-mail address stands for every visit of that address; one without is
    erased alone (a name is not an identity).
    """
    row = connection.execute(
        select(visits.c.visitor_email_folded, visits.c.anonymised_at).where(
            visits.c.tenant_id == tenant_id, visits.c.id == visit_id
        )
    ).first()
    if row is None:
        return None
    if row.visitor_email_folded:
        return erasure_by_email(connection, tenant_id, row.visitor_email_folded)
    return ErasureTarget(None, visit_id, 0 if row.anonymised_at is not None else 1)


def _count(connection: Connection, tenant_id: str, *, email: str) -> int:
    return int(
        connection.execute(
            select(func.count())
            .select_from(visits)
            .where(visits.c.tenant_id == tenant_id, visits.c.visitor_email_folded == email)
        ).scalar_one()
    )


def erase_visitor(
    units: Units,
    tenant_id: str,
    target: ErasureTarget,
    *,
    moment: datetime | None = None,
    record: Recorder | None = None,
    batch: int = BATCH,
) -> int:
    """Anonymise every visit of the target in the tenant now; return how many were changed.

    ``record`` hears of the erasure even when nothing was left to anonymise (the request was
    handled, and the log says so).
    """
    moment = moment or now()
    condition: list[Any] = [visits.c.tenant_id == tenant_id, visits.c.anonymised_at.is_(None)]
    if target.email is not None:
        condition.append(visits.c.visitor_email_folded == target.email)
    elif target.visit_id is not None:
        condition.append(visits.c.id == target.visit_id)
    else:
        raise ValueError("an erasure names an e-mail address or a visit")
    return _in_batches(units, tenant_id, condition, moment, batch, record, audit_none=True)


def check_out_at_end_of_day(
    units: Units,
    *,
    tenant_id: str | None = None,
    moment: datetime | None = None,
    batch: int = BATCH,
    done: MutableMapping[str, datetime] | None = None,
) -> int:
    """Check out the visitors still on site after their site's end of day; return how many.

    Each is checked out by :data:`~hostsync.frontdesk.retention.END_OF_DAY_BY` at the first
    end of day after their check-in. Sites without an end-of-day time are left alone.
    ``done`` (kept by a caller that runs this periodically) remembers the end of day each site
    was last checked out at, so a site is read once per end of day rather than on every run.
    """
    moment = moment or now()
    statement = select(sites.c.id, sites.c.tenant_id, sites.c.timezone, sites.c.end_of_day).where(
        sites.c.end_of_day.is_not(None)
    )
    if tenant_id is not None:
        statement = statement.where(sites.c.tenant_id == tenant_id)
    with units.connect(write=False) as connection:
        plan = connection.execute(statement.order_by(sites.c.tenant_id, sites.c.id)).all()
    total = 0
    for site in plan:
        try:
            zone = ZoneInfo(site.timezone)
        except (ZoneInfoNotFoundError, ValueError):  # set by hand to a zone this host lacks
            log.warning("site %s has an unknown time zone; no end-of-day check-out", site.id)
            continue
        ended = last_end_of_day(zone, site.end_of_day, moment)
        if done is not None and done.get(site.id) == ended:
            continue
        total += _check_out_site(units, site, zone, ended, batch)
        if done is not None:
            done[site.id] = ended
    return total


def _check_out_site(units: Units, site: Any, zone: ZoneInfo, ended: datetime, batch: int) -> int:
    """Check out the site's visitors whose day has ended, ``batch`` per write transaction.

    The site's visitors on site are read whole through the on-site index (a partial index:
    they are today's visitors, however long the site's history); a range on the check-in
    time would lead the planner to the index of every visit the site ever had.
    """
    with units.connect(write=False) as connection:
        rows = connection.execute(
            select(visits.c.pk, visits.c.checked_in_at).where(
                visits.c.tenant_id == site.tenant_id,
                visits.c.site_id == site.id,
                visits.c.checked_out_at.is_(None),
            )
        ).all()
    due = sorted((row.checked_in_at, row.pk) for row in rows if row.checked_in_at < ended)
    total = 0
    for start in range(0, len(due), batch):
        by_moment: dict[datetime, list[int]] = {}
        for checked_in_at, key in due[start : start + batch]:
            leaves = first_end_of_day_after(zone, site.end_of_day, checked_in_at)
            by_moment.setdefault(leaves, []).append(key)
        with units.connect(write=True) as connection:
            for leaves, keys in by_moment.items():
                result = connection.execute(
                    update(visits)
                    .where(
                        visits.c.tenant_id == site.tenant_id,
                        visits.c.pk.in_(keys),
                        visits.c.checked_out_at.is_(None),
                    )
                    .values(checked_out_at=leaves, checked_out_by=END_OF_DAY_BY)
                )
                total += int(result.rowcount or 0)
    return total
