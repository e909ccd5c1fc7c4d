"""What a site is made of, and the rules its settings keep.

A site is a place visitors come to: it has a name, an IANA time zone (visit times and the
end of day are local to it), an optional end-of-day time at which visitors still on site are
checked out, the fallback recipients told of arrivals no host can take, and what its kiosks
show of a host (:mod:`hostsync.frontdesk.privacy`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hostsync.frontdesk.addresses import is_address

DEFAULT_TIMEZONE = "UTC"
NAME_LIMIT = 200
LABEL_LIMIT = 200
FALLBACK_LIMIT = 20
_END_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class SiteSettingError(ValueError):
    """A site setting cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Site:
    """A tenant's site, as stored."""

    id: str
    tenant_id: str
    name: str
    timezone: str
    end_of_day: str | None
    privacy: str
    detail: str | None
    fallback_recipients: tuple[str, ...]
    match_attribute: str | None
    match_value: str | None
    group_ids: tuple[str, ...]
    created_at: datetime

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)


def site_name(name: str) -> str:
    """A site's name, trimmed; :class:`SiteSettingError` when empty or too long."""
    name = " ".join(name.split())
    if not name:
        raise SiteSettingError("a site needs a name")
    if len(name) > NAME_LIMIT:
        raise SiteSettingError(f"a site's name has at most {NAME_LIMIT} characters")
    return name


def timezone_name(name: str | None) -> str:
    """An IANA time zone name (``Europe/Paris``); :class:`SiteSettingError` when unknown."""
    name = (name or DEFAULT_TIMEZONE).strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SiteSettingError(
            f"unknown time zone '{name[:64]}': use an IANA name such as Europe/Paris"
        ) from None
    return name


def end_of_day(value: str | None) -> str | None:
    """``HH:MM`` (24-hour) or None; :class:`SiteSettingError` otherwise."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _END_OF_DAY.match(value):
        raise SiteSettingError(f"end of day '{value[:16]}' is not a time like 18:30")
    return value


def end_of_day_time(value: str) -> time:
    """The ``HH:MM`` an :func:`end_of_day` returned, as a time of day."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def fallback_recipients(addresses: Iterable[str]) -> tuple[str, ...]:
    """E-mail addresses, trimmed, without duplicates (case-insensitive), in the order given."""
    seen: dict[str, str] = {}
    for raw in addresses:
        address = raw.strip()
        if not address:
            continue
        if not is_address(address) or len(address) > 320:
            raise SiteSettingError(f"'{address[:80]}' is not an e-mail address")
        seen.setdefault(address.casefold(), address)
    if len(seen) > FALLBACK_LIMIT:
        raise SiteSettingError(f"a site has at most {FALLBACK_LIMIT} fallback recipients")
    return tuple(seen.values())


def kiosk_label(label: str | None, default: str) -> str:
    """A kiosk's label, trimmed, or ``default``; :class:`SiteSettingError` when too long."""
    label = " ".join((label or "").split()) or default
    if len(label) > LABEL_LIMIT:
        raise SiteSettingError(f"a kiosk's label has at most {LABEL_LIMIT} characters")
    return label
