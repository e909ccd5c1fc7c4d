"""The rules of retention and of a site's end of day: days checked, DST-correct moments."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hostsync.frontdesk.retention import (
    RetentionError,
    end_of_day_on,
    erasure_address,
    first_end_of_day_after,
    last_end_of_day,
    retention_days,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("zone", "day", "utc"),
    [
        (PARIS, date(2024, 3, 30), datetime(2024, 3, 30, 17, 0)),  # CET, UTC+1
        (PARIS, date(2024, 3, 31), datetime(2024, 3, 31, 16, 0)),  # clocks went forward: UTC+2
        (PARIS, date(2024, 10, 27), datetime(2024, 10, 27, 17, 0)),  # back to UTC+1
        (NEW_YORK, date(2024, 3, 9), datetime(2024, 3, 9, 23, 0)),  # EST, UTC-5
        (NEW_YORK, date(2024, 3, 10), datetime(2024, 3, 10, 22, 0)),  # EDT, UTC-4
    ],
)
def test_six_pm_is_the_local_six_pm_of_that_day_whatever_the_offset(
    zone: ZoneInfo, day: date, utc: datetime
) -> None:
    assert end_of_day_on(zone, "18:00", day) == utc


def test_a_time_the_clocks_skip_is_the_same_wall_time_after_the_change() -> None:
    """02:30 does not exist in Paris on 2024-03-31: it is read at UTC+1, i.e. 03:30 CEST."""
    assert end_of_day_on(PARIS, "02:30", date(2024, 3, 31)) == datetime(2024, 3, 31, 1, 30)


def test_a_time_that_happens_twice_is_its_first_occurrence() -> None:
    """02:30 happens twice in Paris on 2024-10-27: the first (CEST, UTC+2) is taken."""
    assert end_of_day_on(PARIS, "02:30", date(2024, 10, 27)) == datetime(2024, 10, 27, 0, 30)


def test_a_visit_ends_at_the_first_end_of_day_after_its_check_in() -> None:
    morning = datetime(2024, 3, 31, 8, 0)  # 10:00 in Paris
    evening = datetime(2024, 3, 31, 17, 0)  # 19:00 in Paris, after the end of day
    assert first_end_of_day_after(PARIS, "18:00", morning) == datetime(2024, 3, 31, 16, 0)
    assert first_end_of_day_after(PARIS, "18:00", evening) == datetime(2024, 4, 1, 16, 0)
    exactly = datetime(2024, 3, 31, 16, 0)  # checked in at 18:00 sharp: tomorrow's
    assert first_end_of_day_after(PARIS, "18:00", exactly) == datetime(2024, 4, 1, 16, 0)


def test_a_late_local_day_is_read_in_the_sites_zone_not_in_utc() -> None:
    """23:30 UTC on the 9th is 18:30 in New York: that day's 18:00 has passed there."""
    checked_in = datetime(2024, 3, 9, 22, 30)  # 17:30 EST
    assert first_end_of_day_after(NEW_YORK, "18:00", checked_in) == datetime(2024, 3, 9, 23, 0)
    assert last_end_of_day(NEW_YORK, "18:00", datetime(2024, 3, 10, 3, 0)) == datetime(
        2024, 3, 9, 23, 0
    )


def test_the_last_end_of_day_is_today_once_passed_else_yesterday() -> None:
    assert last_end_of_day(PARIS, "18:00", datetime(2024, 3, 31, 16, 0)) == datetime(
        2024, 3, 31, 16, 0
    )
    assert last_end_of_day(PARIS, "18:00", datetime(2024, 3, 31, 15, 59)) == datetime(
        2024, 3, 30, 17, 0
    )


@pytest.mark.parametrize(
    ("value", "days"), [("365", 365), (" 30 ", 30), ("1", 1), ("3650", 3650), (7, 7)]
)
def test_retention_days_accepts_whole_days_in_range(value: object, days: int) -> None:
    assert retention_days(value) == days


@pytest.mark.parametrize("value", ["0", "3651", "-5", "1.5", "", "abc", "٣٠", None])
def test_retention_days_refuses_anything_else_with_a_message(value: object) -> None:
    with pytest.raises(RetentionError, match="Retention is"):
        retention_days(value)


def test_erasure_addresses_are_folded_and_checked() -> None:
    assert erasure_address("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    for bad in ["", "   ", "ada", "ada@example", "a b@example.com", None, 5, "x" * 320 + "@a.io"]:
        with pytest.raises(RetentionError):
            erasure_address(bad)
