"""meta.created / lastModified: UTC dateTimes with milliseconds, whatever the microseconds."""

from __future__ import annotations

import random
from datetime import datetime

from hostsync.scim.encoding import wire_time as timestamp


def test_timestamps_have_milliseconds_and_z() -> None:
    assert timestamp(datetime(2026, 11, 29, 5, 6, 7, 891234)) == "2026-11-29T05:06:07.891Z"
    assert timestamp(datetime(2026, 11, 29, 5, 6, 7)) == "2026-11-29T05:06:07.000Z"
    assert timestamp(datetime(2026, 11, 29, 5, 6, 7, 999)) == "2026-11-29T05:06:07.000Z"
    assert timestamp(datetime(2026, 1, 2, 3, 4, 5, 1000)) == "2026-01-02T03:04:05.001Z"


def _random_moment(rng: random.Random, first_year: int = 1) -> datetime:
    """Any moment from ``first_year`` on, with no, any, or whole-millisecond microseconds."""
    return datetime(
        rng.randrange(first_year, 10_000),
        rng.randrange(1, 13),
        rng.randrange(1, 29),
        rng.randrange(24),
        rng.randrange(60),
        rng.randrange(60),
        rng.choice([0, rng.randrange(1_000_000), rng.randrange(1_000) * 1_000]),
    )


def test_timestamps_match_the_general_formatting() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        moment = _random_moment(rng)
        assert timestamp(moment) == moment.isoformat(timespec="milliseconds") + "Z", moment


def test_stored_iso_texts_format_like_the_datetimes_they_hold() -> None:
    """A store may give the moments as the text SQLite keeps (Stored.moments)."""
    rng = random.Random(11)
    for _ in range(5_000):
        moment = _random_moment(rng, first_year=1_000)  # the store writes %Y: 4 digits from 1000
        text = moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # as the store writes it
        assert timestamp(text) == timestamp(moment), text
    assert timestamp("2026-11-29 05:06:07") == "2026-11-29T05:06:07.000Z"
    assert timestamp("2026-11-29T05:06:07.5") == "2026-11-29T05:06:07.500Z"
