"""The moment and the id every new row is stamped with: naive UTC times, time-ordered ids."""

from __future__ import annotations

from datetime import UTC, datetime

from uuid_utils import uuid7


def now() -> datetime:
    """The current UTC time, naive (every timestamp column holds UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    """A new resource id: 32 hex digits of a time-ordered UUID (version 7, RFC 9562).

    Ids made later sort after earlier ones (milliseconds first, then a counter; 74 random
    bits in all), so a new row's id goes to the end of the ``id`` index and, for creates, of
    the activity log's resource index, instead of to a random leaf: the pages a commit
    changes stay few. The time an id shows is what ``meta.created`` says already.
    Measured: bench/JOURNAL.md#time-ordered-ids
    """
    return uuid7().hex
