"""Sites, the groups whose members they offer, and their kiosks.

A kiosk's secret is ``hsk_kiosk_`` followed by 43 URL-safe characters (256 random bits), put
in the link a tablet opens (``/kiosk/<secret>``). Only its SHA-256 digest is stored, as for API
keys (store/tenants.py), and a kiosk is scoped to one site: its credential names the tenant,
the site and the kiosk, nothing more. Revoking a kiosk or archiving its site announces a key
change (store/key_signal.py), so no server process answers the secret from its cache after
the revoking transaction committed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hostsync.frontdesk.sites import (
    Site,
    SiteSettingError,
    fallback_recipients,
    kiosk_label,
    site_name,
    timezone_name,
)
from hostsync.store.clock import new_id, now
from hostsync.store.frontdesk.tables import kiosks, site_groups, sites
from hostsync.store.key_signal import announce
from hostsync.store.tables import groups

KIOSK_PREFIX = "hsk_kiosk_"
_SHOWN_PREFIX = 14
_LAST_SEEN_GRANULARITY = timedelta(minutes=1)
GROUPS_PER_SITE = 50


class SiteError(LookupError):
    """A site or kiosk named by an administrator does not exist in this tenant."""


class DuplicateSiteError(SiteSettingError):
    """The tenant has a site with this name already."""


@dataclass(frozen=True, slots=True)
class Kiosk:
    """A kiosk's metadata; its secret is never stored."""

    id: str
    tenant_id: str
    site_id: str
    label: str
    prefix: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class KioskCredential:
    """What a valid kiosk secret authenticates: one kiosk of one site of one tenant."""

    tenant_id: str
    site_id: str
    kiosk_id: str
    label: str
    last_seen_at: datetime | None


def kiosk_digest(secret: str) -> str:
    """SHA-256 of the kiosk secret, hex-encoded."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_site(
    connection: Connection, tenant_id: str, name: str, *, timezone: str | None = None
) -> Site:
    """Create a site; :class:`DuplicateSiteError` if the tenant has one of that name."""
    name = site_name(name)
    zone = timezone_name(timezone)
    if _site_named(connection, tenant_id, name) is not None:
        raise DuplicateSiteError(f"a site named '{name[:80]}' exists; choose another name")
    moment = now()
    site_id = new_id()
    try:
        with connection.begin_nested():
            connection.execute(
                insert(sites).values(
                    id=site_id,
                    tenant_id=tenant_id,
                    name=name,
                    name_folded=name.casefold(),
                    timezone=zone,
                    end_of_day=None,
                    privacy="full",
                    detail=None,
                    fallback_recipients=[],
                    match_attribute=None,
                    match_value=None,
                    created_at=moment,
                    modified_at=moment,
                )
            )
    except IntegrityError:
        raise DuplicateSiteError(
            f"a site named '{name[:80]}' exists; choose another name"
        ) from None
    site = get_site(connection, tenant_id, site_id)
    assert site is not None  # noqa: S101 - inserted just above
    return site


def _site_named(connection: Connection, tenant_id: str, name: str) -> str | None:
    return connection.execute(
        select(sites.c.id).where(
            sites.c.tenant_id == tenant_id,
            sites.c.name_folded == name.casefold(),
            sites.c.archived_at.is_(None),
        )
    ).scalar()


def get_site(connection: Connection, tenant_id: str, site_id: str) -> Site | None:
    """The tenant's site (not archived), or None."""
    row = connection.execute(
        select(sites).where(
            sites.c.tenant_id == tenant_id, sites.c.id == site_id, sites.c.archived_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return _site(row, _group_ids(connection, tenant_id, [site_id]).get(site_id, ()))


def list_sites(connection: Connection, tenant_id: str) -> list[Site]:
    """The tenant's sites (not archived), by name."""
    rows = connection.execute(
        select(sites)
        .where(sites.c.tenant_id == tenant_id, sites.c.archived_at.is_(None))
        .order_by(sites.c.name_folded)
    ).all()
    mapped = _group_ids(connection, tenant_id, [row.id for row in rows])
    return [_site(row, mapped.get(row.id, ())) for row in rows]


def _group_ids(
    connection: Connection, tenant_id: str, site_ids: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    if not site_ids:
        return {}
    found: dict[str, list[str]] = {}
    rows = connection.execute(
        select(site_groups.c.site_id, site_groups.c.group_id)
        .where(site_groups.c.tenant_id == tenant_id, site_groups.c.site_id.in_(site_ids))
        .order_by(site_groups.c.site_id, site_groups.c.group_id)
    )
    for row in rows:
        found.setdefault(row.site_id, []).append(row.group_id)
    return {site_id: tuple(ids) for site_id, ids in found.items()}


def _site(row: Any, group_ids: tuple[str, ...]) -> Site:
    return Site(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        timezone=row.timezone,
        end_of_day=row.end_of_day,
        privacy=row.privacy,
        detail=row.detail,
        fallback_recipients=tuple(row.fallback_recipients or ()),
        match_attribute=row.match_attribute,
        match_value=row.match_value,
        group_ids=group_ids,
        created_at=row.created_at,
    )


def update_site(connection: Connection, tenant_id: str, site_id: str, **values: Any) -> Site:
    """Change a site's settings (the columns named); :class:`SiteError` if it has no such site.

    Values are checked by the caller with :mod:`hostsync.frontdesk.sites`'s rules; a name
    is checked here for uniqueness too.
    """
    if get_site(connection, tenant_id, site_id) is None:
        raise SiteError(f"this tenant has no site '{site_id[:40]}'")
    unknown = set(values) - _SETTABLE
    if unknown:
        raise ValueError(f"not a site setting: {', '.join(sorted(unknown))}")
    if "fallback_recipients" in values:
        values["fallback_recipients"] = list(fallback_recipients(values["fallback_recipients"]))
    if "name" in values:
        values["name"] = site_name(values["name"])
        other = _site_named(connection, tenant_id, values["name"])
        if other is not None and other != site_id:
            raise DuplicateSiteError(
                f"a site named '{values['name'][:80]}' exists; choose another name"
            )
        values["name_folded"] = values["name"].casefold()
    if "timezone" in values:
        values["timezone"] = timezone_name(values["timezone"])
    connection.execute(
        update(sites)
        .where(sites.c.tenant_id == tenant_id, sites.c.id == site_id)
        .values(modified_at=now(), **values)
    )
    site = get_site(connection, tenant_id, site_id)
    assert site is not None  # noqa: S101 - checked above, in this transaction
    return site


_SETTABLE = frozenset(
    {
        "name",
        "timezone",
        "end_of_day",
        "privacy",
        "detail",
        "fallback_recipients",
        "match_attribute",
        "match_value",
    }
)


def set_site_groups(
    connection: Connection, tenant_id: str, site_id: str, group_ids: Iterable[str]
) -> Site:
    """Offer the members of these groups at the site (none: every active host of the tenant).

    :class:`SiteSettingError` for a group id the tenant has no live group of.
    """
    wanted = sorted(set(group_ids))
    if len(wanted) > GROUPS_PER_SITE:
        raise SiteSettingError(f"a site maps at most {GROUPS_PER_SITE} groups")
    if get_site(connection, tenant_id, site_id) is None:
        raise SiteError(f"this tenant has no site '{site_id[:40]}'")
    if wanted:
        known = set(
            connection.execute(
                select(groups.c.id).where(
                    groups.c.tenant_id == tenant_id,
                    groups.c.id.in_(wanted),
                    groups.c.deleted_at.is_(None),
                )
            ).scalars()
        )
        missing = [group_id for group_id in wanted if group_id not in known]
        if missing:
            raise SiteSettingError(f"this tenant has no group '{missing[0][:40]}'")
    connection.execute(
        delete(site_groups).where(
            site_groups.c.tenant_id == tenant_id, site_groups.c.site_id == site_id
        )
    )
    if wanted:
        connection.execute(
            insert(site_groups),
            [{"site_id": site_id, "group_id": g, "tenant_id": tenant_id} for g in wanted],
        )
    connection.execute(
        update(sites)
        .where(sites.c.tenant_id == tenant_id, sites.c.id == site_id)
        .values(modified_at=now())
    )
    site = get_site(connection, tenant_id, site_id)
    assert site is not None  # noqa: S101 - checked above, in this transaction
    return site


def archive_site(connection: Connection, tenant_id: str, site_id: str) -> None:
    """Archive a site: its kiosks stop working at once; its visits stay on record."""
    result = connection.execute(
        update(sites)
        .where(sites.c.tenant_id == tenant_id, sites.c.id == site_id, sites.c.archived_at.is_(None))
        .values(archived_at=now())
    )
    if not result.rowcount:
        raise SiteError(f"this tenant has no site '{site_id[:40]}'")
    announce(connection)


def create_kiosk(
    connection: Connection, tenant_id: str, site_id: str, label: str | None = None
) -> tuple[Kiosk, str]:
    """Create a kiosk for the site; return it and its secret (shown once)."""
    site = get_site(connection, tenant_id, site_id)
    if site is None:
        raise SiteError(f"this tenant has no site '{site_id[:40]}'")
    secret = KIOSK_PREFIX + secrets.token_urlsafe(32)
    kiosk = Kiosk(
        id=new_id(),
        tenant_id=tenant_id,
        site_id=site_id,
        label=kiosk_label(label, f"{site.name} kiosk"),
        prefix=secret[:_SHOWN_PREFIX],
        created_at=now(),
        last_seen_at=None,
        revoked_at=None,
    )
    connection.execute(
        insert(kiosks).values(
            id=kiosk.id,
            tenant_id=tenant_id,
            site_id=site_id,
            label=kiosk.label,
            prefix=kiosk.prefix,
            digest=kiosk_digest(secret),
            created_at=kiosk.created_at,
        )
    )
    announce(connection, revocation=False)  # void any refusal of it that a process cached
    return kiosk, secret


def list_kiosks(connection: Connection, tenant_id: str, site_id: str | None = None) -> list[Kiosk]:
    """The tenant's kiosks (of one site if given), newest first, revoked ones included."""
    statement = select(kiosks).where(kiosks.c.tenant_id == tenant_id)
    if site_id is not None:
        statement = statement.where(kiosks.c.site_id == site_id)
    rows = connection.execute(statement.order_by(kiosks.c.created_at.desc()))
    return [
        Kiosk(
            r.id,
            r.tenant_id,
            r.site_id,
            r.label,
            r.prefix,
            r.created_at,
            r.last_seen_at,
            r.revoked_at,
        )
        for r in rows
    ]


def revoke_kiosk(connection: Connection, tenant_id: str, kiosk_id: str) -> None:
    """Revoke one of the tenant's kiosks; :class:`SiteError` if it has no such kiosk."""
    result = connection.execute(
        update(kiosks)
        .where(
            kiosks.c.tenant_id == tenant_id,
            kiosks.c.id == kiosk_id,
            kiosks.c.revoked_at.is_(None),
        )
        .values(revoked_at=now())
    )
    if not result.rowcount:
        known = connection.execute(
            select(kiosks.c.id).where(kiosks.c.tenant_id == tenant_id, kiosks.c.id == kiosk_id)
        ).first()
        if known is None:
            raise SiteError(f"this tenant has no kiosk '{kiosk_id[:40]}'")
        return
    announce(connection)


def authenticate_kiosk(connection: Connection, secret: str) -> KioskCredential | None:
    """The credential of a valid kiosk secret (not revoked, its site not archived), or None."""
    if not secret.startswith(KIOSK_PREFIX) or len(secret) > 200:
        return None
    presented = kiosk_digest(secret)
    row = connection.execute(
        select(
            kiosks.c.id,
            kiosks.c.tenant_id,
            kiosks.c.site_id,
            kiosks.c.label,
            kiosks.c.digest,
            kiosks.c.last_seen_at,
        )
        .join(sites, sites.c.id == kiosks.c.site_id)
        .where(
            kiosks.c.digest == presented,
            kiosks.c.revoked_at.is_(None),
            sites.c.archived_at.is_(None),
            sites.c.tenant_id == kiosks.c.tenant_id,
        )
    ).first()
    if row is None or not hmac.compare_digest(row.digest, presented):
        return None
    return KioskCredential(row.tenant_id, row.site_id, row.id, row.label, row.last_seen_at)


def mark_seen(connection: Connection, kiosk_id: str, last_seen_at: datetime | None) -> None:
    """Record that a kiosk was used, at most once a minute, so hot paths rarely write."""
    moment = now()
    if last_seen_at is not None and moment - last_seen_at < _LAST_SEEN_GRANULARITY:
        return
    connection.execute(update(kiosks).where(kiosks.c.id == kiosk_id).values(last_seen_at=moment))
