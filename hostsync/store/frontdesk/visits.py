"""Visits: check-in (with the deliveries it owes), check-out, who is on site.

A check-in is one transaction: the visit and its deliveries (store/frontdesk/outbox.py) are
committed together or not at all, and nothing is sent inside it. The host must be an active,
not deleted user of the tenant whom the site offers (a member of one of its groups, when it
maps groups); the label the kiosk showed is kept with the visit as it was then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select, update

from hostsync.frontdesk.names import fold
from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import Arrival, Visit, VisitError
from hostsync.scim.errors import ScimError
from hostsync.store.clock import new_id, now
from hostsync.store.frontdesk.outbox import queue_arrival
from hostsync.store.frontdesk.search import attribute_condition
from hostsync.store.frontdesk.tables import visits
from hostsync.store.tables import memberships, users

ON_SITE_LIMIT = 5000


class UnknownHostError(VisitError):
    """The host picked is not an active host offered at this site (any more)."""


@dataclass(frozen=True, slots=True)
class CheckIn:
    """Who checked a visitor in: a kiosk (its id and label) or an administrator."""

    by: str
    kiosk_id: str | None = None


def check_in(
    connection: Connection,
    site: Site,
    arrival: Arrival,
    who: CheckIn,
    *,
    host_label: str | None = None,
) -> Visit:
    """Record the arrival at the site and queue its notifications; return the visit.

    :class:`UnknownHostError` if the host is not offered at the site; nothing is written then.
    """
    if arrival.host_id is not None and not host_offered(connection, site, arrival.host_id):
        raise UnknownHostError("This host cannot be chosen here any more; pick another")
    moment = now()
    values: dict[str, Any] = {
        "id": new_id(),
        "tenant_id": site.tenant_id,
        "site_id": site.id,
        "kiosk_id": who.kiosk_id,
        "visitor_name": arrival.full_name,
        "visitor_name_folded": fold(arrival.full_name),
        "visitor_company": arrival.company,
        "visitor_email": arrival.email,
        "visitor_email_folded": arrival.email.casefold() if arrival.email else None,
        "host_id": arrival.host_id,
        "host_label": host_label,
        "front_desk": arrival.front_desk,
        "checked_in_at": moment,
        "checked_in_by": who.by,
    }
    connection.execute(visits.insert().values(**values))
    queue_arrival(connection, site, values["id"], arrival.host_id, moment)
    return _visit({**values, "checked_out_at": None, "checked_out_by": None, "anonymised_at": None})


def host_offered(connection: Connection, site: Site, host_id: str) -> bool:
    """Whether the site offers this host now: active, not deleted, and in the site's scope.

    The scope is the one a search at the site uses (store/frontdesk/search.py): the site's
    attribute rule when it has one, else its groups, else every active host of the tenant. A
    rule the tenant can no longer filter on (an extension since removed) offers nobody.
    """
    condition = [
        users.c.tenant_id == site.tenant_id,
        users.c.id == host_id,
        users.c.active.is_(True),
        users.c.deleted_at.is_(None),
    ]
    if site.match_attribute and site.match_value is not None:
        try:
            rule = attribute_condition(
                connection, site.tenant_id, site.match_attribute, site.match_value
            )
        except ScimError:
            return False
        condition.append(rule)
    elif site.group_ids:
        condition.append(
            exists().where(
                memberships.c.member_id == users.c.id,
                memberships.c.tenant_id == site.tenant_id,
                memberships.c.group_id.in_(site.group_ids),
            )
        )
    return connection.execute(select(users.c.pk).where(*condition)).first() is not None


def host_document(connection: Connection, tenant_id: str, host_id: str) -> dict[str, Any] | None:
    """The stored document of the tenant's active, not deleted user ``host_id``, or None.

    What a kiosk's label for the host is computed from; whether the site offers the host is
    :func:`host_offered`'s question (asked again by :func:`check_in`).
    """
    document = connection.execute(
        select(users.c.document).where(
            users.c.tenant_id == tenant_id,
            users.c.id == host_id,
            users.c.active.is_(True),
            users.c.deleted_at.is_(None),
        )
    ).scalar()
    return document if isinstance(document, dict) else None


def get_visit(connection: Connection, tenant_id: str, visit_id: str) -> Visit | None:
    """The tenant's visit, or None."""
    row = connection.execute(
        select(visits).where(visits.c.tenant_id == tenant_id, visits.c.id == visit_id)
    ).first()
    return None if row is None else _visit(row._mapping)


def check_out(
    connection: Connection,
    tenant_id: str,
    visit_id: str,
    by: str,
    *,
    site_id: str | None = None,
    moment: datetime | None = None,
) -> Visit | None:
    """Check a visitor out (of that site only, if given); None if no such visit is on site."""
    condition = [
        visits.c.tenant_id == tenant_id,
        visits.c.id == visit_id,
        visits.c.checked_out_at.is_(None),
    ]
    if site_id is not None:
        condition.append(visits.c.site_id == site_id)
    result = connection.execute(
        update(visits).where(*condition).values(checked_out_at=moment or now(), checked_out_by=by)
    )
    if not result.rowcount:
        return None
    return get_visit(connection, tenant_id, visit_id)


def on_site(
    connection: Connection,
    tenant_id: str,
    site_id: str,
    *,
    name_prefix: str | None = None,
    since: datetime | None = None,
    limit: int = ON_SITE_LIMIT,
) -> list[Visit]:
    """Visitors on site now (not checked out), by name; a folded name prefix narrows them."""
    condition = [
        visits.c.tenant_id == tenant_id,
        visits.c.site_id == site_id,
        visits.c.checked_out_at.is_(None),
    ]
    if name_prefix:
        condition.append(
            visits.c.visitor_name_folded.startswith(fold(name_prefix), autoescape=True)
        )
    if since is not None:
        condition.append(visits.c.checked_in_at >= since)
    rows = connection.execute(
        select(visits)
        .where(*condition)
        .order_by(visits.c.visitor_name_folded, visits.c.checked_in_at)
        .limit(limit)
    )
    return [_visit(row._mapping) for row in rows]


def _visit(row: Any) -> Visit:
    return Visit(
        id=row["id"],
        tenant_id=row["tenant_id"],
        site_id=row["site_id"],
        kiosk_id=row["kiosk_id"],
        visitor_name=row["visitor_name"] if row["anonymised_at"] is None else None,
        visitor_company=row["visitor_company"],
        visitor_email=row["visitor_email"],
        host_id=row["host_id"],
        host_label=row["host_label"],
        front_desk=bool(row["front_desk"]),
        checked_in_at=row["checked_in_at"],
        checked_in_by=row["checked_in_by"],
        checked_out_at=row["checked_out_at"],
        checked_out_by=row["checked_out_by"],
        anonymised_at=row["anonymised_at"],
    )
