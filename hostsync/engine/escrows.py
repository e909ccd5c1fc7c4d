"""Escrow of failed objects: when each is tried again, and when it is released.

The delays are ``settings.escrow_retry_minutes``; a change to the source object retries it at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from hostsync.engine import planner
from hostsync.engine.clock import backoff, format_time, parse_time
from hostsync.engine.planner import Evaluated
from hostsync.engine.ports import Escrow, JobState
from hostsync.engine.reports import Outcome

ESCROW_MINIMUM = 5_000
ESCROW_PROPORTION = 0.4
ESCROW_TOTAL = 40_000


def waiting(state: JobState, evaluated: Mapping[str, Evaluated], now: datetime) -> frozenset[str]:
    """Escrowed objects still waiting for their next attempt, unchanged in the source."""
    return frozenset(
        key
        for key, escrow in state.escrows.items()
        if parse_time(escrow.next_attempt) > now
        and planner.fingerprint(evaluated.get(key)) == escrow.fingerprint
    )


def record(
    state: JobState,
    evaluated: Mapping[str, Evaluated],
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    delays_minutes: Sequence[float],
    finished: bool,
    deferred: frozenset[str] = frozenset(),
) -> None:
    """Escrow the objects that failed; release those that went through.

    ``finished`` (a whole cycle ran) also releases escrowed objects with nothing to do any
    more, except the ``deferred`` ones that were not tried.
    """
    failed: dict[str, Outcome] = {}
    for outcome in outcomes:
        key = f"{outcome.kind}:{outcome.source_id}"
        if outcome.status == "failure":
            failed.setdefault(key, outcome)
        else:
            state.escrows.pop(key, None)
    if finished:  # an escrowed object with nothing to do any more is released too
        for key in [k for k in state.escrows if k not in deferred and k not in failed]:
            del state.escrows[key]
    for key, outcome in failed.items():
        previous = state.escrows.get(key)
        failures = previous.failures + 1 if previous is not None else 1
        delay = backoff(delays_minutes, failures)
        state.escrows[key] = Escrow(
            failures=failures,
            first_failed=previous.first_failed if previous is not None else format_time(now),
            next_attempt=format_time(now + delay),
            fingerprint=planner.fingerprint(evaluated.get(key)),
            code=outcome.error_code or "",
            reason=outcome.reason or "",
        )


def exceeded(failures: int, total: int) -> bool:
    """Entra's escrow thresholds (docs/reference/entra-engine.md#quarantine)."""
    if failures < ESCROW_MINIMUM:
        return False
    return failures > ESCROW_TOTAL or failures > ESCROW_PROPORTION * total
