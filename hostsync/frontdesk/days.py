"""A site's days: visit times are stored in UTC and shown, filtered and exported in the site's zone.

Every stored time is naive UTC (store/clock.py). A *day* at a site runs from local midnight to
the next local midnight of the site's IANA zone, so it lasts 23 or 25 hours on the days the
clocks change; :func:`day_bounds` gives it in UTC for queries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL_FORMAT = "%Y-%m-%d %H:%M"


def local_moment(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored (naive UTC) time as an aware time of the zone."""
    return moment.replace(tzinfo=UTC).astimezone(zone)


def local_text(moment: datetime | None, zone: ZoneInfo) -> str:
    """``2024-05-01 09:30`` in the zone; empty for None."""
    if moment is None:
        return ""
    return local_moment(moment, zone).strftime(LOCAL_FORMAT)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The zone's calendar day of a stored (naive UTC) time."""
    return local_moment(moment, zone).date()


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The day's start and the next day's start in the zone, as naive UTC: ``[start, end)``."""
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return (
        start.astimezone(UTC).replace(tzinfo=None),
        end.astimezone(UTC).replace(tzinfo=None),
    )


def parse_day(text: str | None) -> date | None:
    """``YYYY-MM-DD`` as a date; None for anything else (an odd query string is ignored)."""
    text = (text or "").strip()
    if len(text) != 10 or not text.isascii():
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def day_start(zone: ZoneInfo, moment: datetime) -> datetime:
    """The start of the local day ``moment`` falls in, as naive UTC like the stored times.

    ``moment`` is naive UTC (or aware); the day is the site's: at 23:30 UTC in Paris it is
    already tomorrow. A day that starts in a DST gap starts at the first local time that
    exists.
    """
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return day_bounds(aware.astimezone(zone).date(), zone)[0]
