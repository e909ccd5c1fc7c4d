"""Read models of the front-desk console: sites at a glance, the visit list and its CSV export.

Every query takes the tenant's id and filters every table it reads by it, so an administrator
never sees, counts or exports another tenant's sites, kiosks, groups or visits. Visit times are
naive UTC; the *day* filter is a day of each visit's own site (:mod:`hostsync.frontdesk.days`),
and the CSV shows times in the site's zone beside their UTC value. Cells are formula-safe
(:func:`hostsync.store.activity.export.csv_cell`) and the file starts with a UTF-8 byte order
mark, so that spreadsheets read accented names right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, false, func, or_, select

from hostsync.frontdesk.days import day_bounds, local_text
from hostsync.frontdesk.sites import Site
from hostsync.store.frontdesk.sites import list_sites
from hostsync.store.frontdesk.tables import kiosks, sites, visits
from hostsync.store.spreadsheets import BOM, csv_cell
from hostsync.store.tables import groups

if TYPE_CHECKING:
    from hostsync.store.database import Database

VISITS_PAGE = 50
EXPORT_CHUNK_ROWS = 500
GROUP_CHOICES = 1000
STATUSES = ("on-site", "checked-out")
CSV_COLUMNS = (
    "site",
    "visitor",
    "company",
    "email",
    "host",
    "checked_in",
    "checked_out",
    "timezone",
    "checked_in_utc",
    "checked_out_utc",
    "checked_in_by",
    "checked_out_by",
    "visit_id",
)


@dataclass(frozen=True, slots=True)
class SiteSummary:
    """A site with its live kiosks and the visitors on site now."""

    site: Site
    kiosks: int
    on_site: int


@dataclass(frozen=True, slots=True)
class VisitFilter:
    """The visits a list or export asks for; None means any."""

    site_id: str | None = None
    day: date | None = None
    host_id: str | None = None
    host: str | None = None  # a piece of the host's label, case-insensitive
    status: str | None = None  # one of STATUSES


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One visit in the list, with its site's name and zone."""

    id: str
    pk: int
    site_id: str
    site_name: str
    timezone: str
    visitor_name: str | None
    visitor_company: str | None
    visitor_email: str | None
    host_id: str | None
    host_label: str | None
    front_desk: bool
    checked_in_at: datetime
    checked_in_by: str
    checked_out_at: datetime | None
    checked_out_by: str | None
    anonymised: bool

    @property
    def zone(self) -> ZoneInfo:
        """The visit's site's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def host_text(self) -> str:
        """Whom the visitor came to see, as the kiosk showed it."""
        if self.front_desk:
            return "Front desk"
        return self.host_label or "—"


def site_summaries(connection: Connection, tenant_id: str) -> list[SiteSummary]:
    """The tenant's sites by name, each with its live kiosks and its visitors on site now."""
    found = list_sites(connection, tenant_id)
    if not found:
        return []
    ids = [site.id for site in found]
    live_kiosks: dict[str, int] = {
        row[0]: int(row[1])
        for row in connection.execute(
            select(kiosks.c.site_id, func.count())
            .where(
                kiosks.c.tenant_id == tenant_id,
                kiosks.c.site_id.in_(ids),
                kiosks.c.revoked_at.is_(None),
            )
            .group_by(kiosks.c.site_id)
        )
    }
    present: dict[str, int] = {
        row[0]: int(row[1])
        for row in connection.execute(
            select(visits.c.site_id, func.count())
            .where(
                visits.c.tenant_id == tenant_id,
                visits.c.site_id.in_(ids),
                visits.c.checked_out_at.is_(None),
            )
            .group_by(visits.c.site_id)
        )
    }
    return [
        SiteSummary(site, int(live_kiosks.get(site.id, 0)), int(present.get(site.id, 0)))
        for site in found
    ]


def group_choices(
    connection: Connection, tenant_id: str, limit: int = GROUP_CHOICES
) -> list[tuple[str, str]]:
    """The tenant's live groups as (id, display name), by name: what a site may map."""
    rows = connection.execute(
        select(groups.c.id, groups.c.display_name)
        .where(groups.c.tenant_id == tenant_id, groups.c.deleted_at.is_(None))
        .order_by(groups.c.display_name_folded, groups.c.pk)
        .limit(limit)
    )
    return [(row.id, row.display_name) for row in rows]


def group_names(connection: Connection, tenant_id: str, group_ids: Sequence[str]) -> dict[str, str]:
    """Display names of the tenant's live groups among ``group_ids``."""
    if not group_ids:
        return {}
    rows = connection.execute(
        select(groups.c.id, groups.c.display_name).where(
            groups.c.tenant_id == tenant_id,
            groups.c.id.in_(list(group_ids)),
            groups.c.deleted_at.is_(None),
        )
    )
    return {row.id: row.display_name for row in rows}


def _zones(connection: Connection, tenant_id: str) -> dict[str, list[str]]:
    """The tenant's site ids (archived ones too: their visits stay) by time zone."""
    zones: dict[str, list[str]] = {}
    rows = connection.execute(
        select(sites.c.id, sites.c.timezone).where(sites.c.tenant_id == tenant_id)
    )
    for row in rows:
        zones.setdefault(row.timezone, []).append(row.id)
    return zones


def _conditions(connection: Connection, tenant_id: str, selected: VisitFilter) -> list[Any]:
    v = visits.c
    conditions: list[Any] = [v.tenant_id == tenant_id]
    if selected.site_id is not None:
        conditions.append(v.site_id == selected.site_id)
    if selected.host_id is not None:
        conditions.append(v.host_id == selected.host_id)
    if selected.host:
        escaped = (
            selected.host.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        )
        conditions.append(func.lower(v.host_label).like(f"%{escaped}%", escape="\\"))
    if selected.status == "on-site":
        conditions.append(v.checked_out_at.is_(None))
    elif selected.status == "checked-out":
        conditions.append(v.checked_out_at.is_not(None))
    if selected.day is not None:
        spans = []
        for zone, site_ids in _zones(connection, tenant_id).items():
            if selected.site_id is not None:
                site_ids = [s for s in site_ids if s == selected.site_id]
            if not site_ids:
                continue
            start, end = day_bounds(selected.day, ZoneInfo(zone))
            spans.append(
                and_(v.site_id.in_(site_ids), v.checked_in_at >= start, v.checked_in_at < end)
            )
        conditions.append(or_(*spans) if spans else false())
    return conditions


def _statement(connection: Connection, tenant_id: str, selected: VisitFilter) -> Any:
    return (
        select(visits, sites.c.name.label("site_name"), sites.c.timezone)
        .join(sites, and_(sites.c.id == visits.c.site_id, sites.c.tenant_id == tenant_id))
        .where(*_conditions(connection, tenant_id, selected))
    )


def _row(row: Any) -> VisitRow:
    anonymised = row.anonymised_at is not None
    return VisitRow(
        id=row.id,
        pk=int(row.pk),
        site_id=row.site_id,
        site_name=row.site_name,
        timezone=row.timezone,
        visitor_name=None if anonymised else row.visitor_name,
        visitor_company=None if anonymised else row.visitor_company,
        visitor_email=None if anonymised else row.visitor_email,
        host_id=row.host_id,
        host_label=row.host_label,
        front_desk=bool(row.front_desk),
        checked_in_at=row.checked_in_at,
        checked_in_by=row.checked_in_by,
        checked_out_at=row.checked_out_at,
        checked_out_by=row.checked_out_by,
        anonymised=anonymised,
    )


def list_visits(
    connection: Connection,
    tenant_id: str,
    selected: VisitFilter,
    *,
    offset: int = 0,
    limit: int = VISITS_PAGE,
) -> tuple[int, list[VisitRow]]:
    """The matching visits, newest arrival first, and how many match in all."""
    statement = _statement(connection, tenant_id, selected)
    total = connection.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    rows = connection.execute(
        statement.order_by(visits.c.checked_in_at.desc(), visits.c.pk.desc())
        .offset(offset)
        .limit(limit)
    )
    return int(total), [_row(row) for row in rows]


def get_visit_row(connection: Connection, tenant_id: str, visit_id: str) -> VisitRow | None:
    """One of the tenant's visits with its site's name and zone, or None."""
    row = connection.execute(
        select(visits, sites.c.name.label("site_name"), sites.c.timezone)
        .join(sites, and_(sites.c.id == visits.c.site_id, sites.c.tenant_id == tenant_id))
        .where(visits.c.tenant_id == tenant_id, visits.c.id == visit_id)
    ).first()
    return None if row is None else _row(row)


def _export_rows(
    connection: Connection,
    tenant_id: str,
    selected: VisitFilter,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[VisitRow]:
    statement = _statement(connection, tenant_id, selected)
    if after is not None:
        at, pk = after
        statement = statement.where(
            or_(visits.c.checked_in_at < at, and_(visits.c.checked_in_at == at, visits.c.pk < pk))
        )
    rows = connection.execute(
        statement.order_by(visits.c.checked_in_at.desc(), visits.c.pk.desc()).limit(limit)
    )
    return [_row(row) for row in rows]


def _utc(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds") + "Z"


def _csv_row(visit: VisitRow) -> list[str]:
    zone = visit.zone
    return [
        csv_cell(value)
        for value in (
            visit.site_name,
            "(anonymised)" if visit.anonymised else visit.visitor_name,
            visit.visitor_company,
            visit.visitor_email,
            visit.host_text,
            local_text(visit.checked_in_at, zone),
            local_text(visit.checked_out_at, zone),
            visit.timezone,
            _utc(visit.checked_in_at),
            _utc(visit.checked_out_at),
            visit.checked_in_by,
            visit.checked_out_by,
            visit.id,
        )
    ]


def _csv_text(rows: Sequence[list[str]], header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        buffer.write(BOM)
        writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def stream_visits_csv(
    database: Database,
    tenant_id: str,
    selected: VisitFilter,
    chunk_rows: int = EXPORT_CHUNK_ROWS,
) -> Iterator[str]:
    """The matching visits as CSV text: BOM and header, then rows newest first, in chunks.

    Each chunk is read in a short read transaction of its own, by key (arrival time, row)
    after the last one sent, so a download of any size holds one chunk in memory and no
    connection while the client reads.
    """
    yield _csv_text([], header=True)
    after: tuple[datetime, int] | None = None
    while True:
        with database.connect(write=False) as connection:
            rows = _export_rows(connection, tenant_id, selected, after, chunk_rows)
        if not rows:
            return
        yield _csv_text([_csv_row(row) for row in rows])
        after = (rows[-1].checked_in_at, rows[-1].pk)
