"""store/activity/counting.RequestCounter: requests counted per tenant and UTC hour."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hostsync.store.activity import counting
from hostsync.store.activity.counting import RequestCounter


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def test_each_request_is_counted_in_its_own_utc_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = RequestCounter()
    clock = [_epoch(datetime(2026, 11, 29, 9, 59, 59, 999000))]
    monkeypatch.setattr(counting.time, "time", lambda: clock[0])

    counter.count("t1", failed=False)
    counter.count("t1", failed=True)
    clock[0] = _epoch(datetime(2026, 11, 29, 10, 0, 0))  # the next hour begins
    counter.count("t1", failed=False)
    counter.count("t2", failed=False)
    clock[0] = _epoch(datetime(2026, 11, 29, 9, 30))  # the clock stepped back
    counter.count("t1", failed=False)

    assert counter._pending == {
        ("t1", datetime(2026, 11, 29, 9)): [3, 1],
        ("t1", datetime(2026, 11, 29, 10)): [1, 0],
        ("t2", datetime(2026, 11, 29, 10)): [1, 0],
    }


def test_the_hour_is_the_current_utc_hour() -> None:
    counter = RequestCounter()
    before = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    counter.count("t", failed=False)
    after = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    ((tenant, hour),) = counter._pending
    assert tenant == "t"
    assert before <= hour <= after
