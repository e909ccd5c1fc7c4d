"""Signatures a receiver can verify, the retry schedule, and sealed secrets."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hostsync.frontdesk import sealing
from hostsync.frontdesk.delivery import signing
from hostsync.frontdesk.delivery.backoff import Backoff

SECRET = "whsec_test"


def test_a_signature_verifies_and_any_change_breaks_it() -> None:
    body = b'{"id":"d1"}'
    headers = signing.signed_headers(SECRET, 1_765_200_000, body, "d1")
    header = headers[signing.SIGNATURE_HEADER]
    assert header.startswith("t=1765200000,v1=")
    assert headers[signing.IDEMPOTENCY_HEADER] == "d1"
    assert signing.verify(SECRET, header, body, now=1_765_200_010)
    assert not signing.verify(SECRET, header, body + b" ", now=1_765_200_010)
    assert not signing.verify("other", header, body, now=1_765_200_010)
    assert not signing.verify(SECRET, header, body, now=1_765_200_000 + 301)  # replayed late
    assert not signing.verify(SECRET, "v1=" + header.split("v1=")[1], body, now=1_765_200_000)


def test_full_jitter_stays_under_an_exponential_ceiling_and_the_cap() -> None:
    backoff = Backoff(base=5, cap=60, max_attempts=10)
    assert [backoff.ceiling(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert backoff.delay(3, lambda: 0.5) == 10
    assert backoff.delay(30, lambda: 0.999) < 60


def test_backoff_gives_up_after_max_attempts_or_max_age() -> None:
    backoff = Backoff(base=5, cap=60, max_attempts=3, max_age=timedelta(minutes=10))
    queued = datetime(2026, 1, 1)
    assert backoff.next_attempt(2, queued, queued, lambda: 1.0) == queued + timedelta(seconds=10)
    assert backoff.next_attempt(3, queued, queued, lambda: 0.0) is None
    late = queued + timedelta(minutes=9, seconds=59)
    assert backoff.next_attempt(1, queued, late, lambda: 1.0) is None


def test_sealed_values_open_only_with_their_key() -> None:
    sealer = sealing.Sealer(sealing.new_key())
    sealed = sealer.seal("https://hooks.slack.com/services/T/B/secret")
    assert "secret" not in sealed
    assert sealer.open(sealed) == "https://hooks.slack.com/services/T/B/secret"
    with pytest.raises(sealing.SealingError):
        sealing.Sealer(sealing.new_key()).open(sealed)
    with pytest.raises(sealing.SealingError):
        sealing.Sealer(b"not a key")
    assert "secret" not in repr(sealer)


def test_the_key_file_is_created_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "hostsync.key"
    key = sealing.load_key(None, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sealing.load_key("", path) == key
    assert sealing.load_key("  given  ", path) == b"given"


def test_masked_shows_host_and_four_characters_only() -> None:
    url = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers?sig=XYZsecret1234"
    shown = sealing.masked(url)
    assert shown == "https://prod-01.westeurope.logic.azure.com/…1234"
    assert "secret" not in shown
