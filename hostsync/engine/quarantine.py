"""Quarantine of a failing job: when its next cycle may run, and when it is disabled.

The delays are ``settings.quarantine_retry_minutes``; ``quarantine_disable_days`` without a
successful cycle disable the job until ``sync restart``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hostsync.engine.clock import backoff, format_time, parse_time
from hostsync.engine.jobs import SettingsConfig
from hostsync.engine.ports import JobState, Quarantine


def enter(
    state: JobState, reason: str, detail: str, now: datetime, settings: SettingsConfig
) -> None:
    """Enter or extend quarantine; disable the job after ``quarantine_disable_days``."""
    old = state.quarantine
    series = old.series_count + 1 if old else 1
    delay = backoff(settings.quarantine_retry_minutes, series)
    began = old.began if old and old.reason == reason else format_time(now)
    series_began = (old.series_began or old.began) if old else format_time(now)
    state.quarantine = Quarantine(
        reason, began, format_time(now + delay), series, detail, series_began
    )
    limit = timedelta(days=settings.quarantine_disable_days)
    if now - parse_time(series_began) >= limit:
        state.disabled = (
            f"quarantined since {series_began} ({reason}: {detail}); disabled after "
            f"{settings.quarantine_disable_days:g} days without a successful cycle; "
            "fix the cause, then run 'hostsync sync restart'"
        )
