"""Counts of requests the hardening fuzzers sent and of 5xx answers seen (printed at the end)."""

from __future__ import annotations

from collections import Counter

COUNTS: Counter[str] = Counter()


def record(status: int) -> None:
    """Count one fuzzed request and whether it got a server error."""
    COUNTS["requests"] += 1
    if status >= 500:
        COUNTS["5xx"] += 1


def summary() -> str:
    """One line for the terminal summary."""
    return (
        f"hardening fuzz: {COUNTS['requests']} requests fuzzed, {COUNTS['5xx']} 5xx seen, "
        f"{COUNTS['schemathesis']} schemathesis calls, {COUNTS['isolation']} isolation requests; "
        f"durability: {COUNTS['durability_acked']} writes acknowledged before SIGKILL, "
        f"{COUNTS['durability_found']} found after restart"
    )
