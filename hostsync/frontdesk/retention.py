"""How long a visit keeps the visitor's personal data, and when a site's day ends.

- Retention: a visit is anonymised once it is older than the tenant's retention period
  (:data:`DEFAULT_RETENTION_DAYS` unless the tenant sets another, between
  :data:`MIN_RETENTION_DAYS` and :data:`MAX_RETENTION_DAYS`). Anonymising blanks the
  visitor's name (the visit then shows :data:`ANONYMISED_NAME`), company and e-mail address;
  the host, the site and the times stay, so counts and the host's history still add up.
- Erasure: a visitor is found by e-mail address, compared case-insensitively
  (:func:`erasure_address`); a name is not an identity, so a visit without an address is
  erased alone.
- End of day: a site's end-of-day time is local to its time zone. A visitor still on site is
  checked out at the first end of day after their check-in (that moment, not the moment the
  job ran). The local time is turned into UTC for that day's own offset, so the moment moves
  with daylight saving time; a time that does not exist that day (skipped by the clocks going
  forward) is read with the offset before the change, i.e. as the same wall time after it,
  and a time that happens twice is its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hostsync.frontdesk.addresses import is_address
from hostsync.frontdesk.sites import end_of_day_time

DEFAULT_RETENTION_DAYS = 365
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650
ANONYMISED_NAME = "Anonymised visitor"
END_OF_DAY_BY = "end of day"
_ADDRESS_LIMIT = 320


class RetentionError(ValueError):
    """A retention setting or an erasure request cannot be used; the message says why."""


def retention_days(value: object) -> int:
    """Days a visit keeps personal data, from a form or the command line; checked."""
    text = str(value).strip() if value is not None else ""
    if not text.isascii() or not text.isdigit():
        raise RetentionError("Retention is a whole number of days, such as 365")
    days = int(text)
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise RetentionError(
            f"Retention is between {MIN_RETENTION_DAYS} and {MAX_RETENTION_DAYS} days"
        )
    return days


def erasure_address(value: object) -> str:
    """The e-mail address of a visitor to erase, folded as visits store it; checked."""
    text = str(value).strip() if isinstance(value, str) else ""
    if not text:
        raise RetentionError("Enter the visitor's e-mail address")
    if len(text) > _ADDRESS_LIMIT or not is_address(text):
        raise RetentionError("This is not an e-mail address")
    return text.casefold()


def retention_cutoff(moment: datetime, days: int) -> datetime:
    """Visits checked in before this (naive UTC) moment are anonymised."""
    return moment - timedelta(days=days)


def end_of_day_on(zone: ZoneInfo, end_of_day: str, day: date) -> datetime:
    """The site's end of day on a local calendar day, as a naive UTC moment."""
    local = datetime.combine(day, end_of_day_time(end_of_day), tzinfo=zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def first_end_of_day_after(zone: ZoneInfo, end_of_day: str, checked_in_at: datetime) -> datetime:
    """The first end of day strictly after a (naive UTC) check-in: when the visit ends."""
    local_day = checked_in_at.replace(tzinfo=UTC).astimezone(zone).date()
    for offset in range(3):  # that day's, else the next day's (a later check-in)
        moment = end_of_day_on(zone, end_of_day, local_day + timedelta(days=offset))
        if moment > checked_in_at:
            return moment
    raise AssertionError("an end of day always comes within two days")  # pragma: no cover


def last_end_of_day(zone: ZoneInfo, end_of_day: str, moment: datetime) -> datetime:
    """The latest end of day at or before a (naive UTC) moment."""
    local_day = moment.replace(tzinfo=UTC).astimezone(zone).date()
    for offset in range(3):  # today's, else yesterday's
        found = end_of_day_on(zone, end_of_day, local_day - timedelta(days=offset))
        if found <= moment:
            return found
    raise AssertionError("an end of day always came within two days")  # pragma: no cover
