"""bench/outbox.py works end to end on a tiny run (correctness only: no speed is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_the_outbox_benchmark_delivers_every_email_once() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "outbox.py"),
            "--checkins",
            "30",
            "--hosts",
            "5",
            "--channels",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["emails_received"] == figures["emails_unique"] == 30
    assert figures["webhook_posts"] == 30
    assert figures["checkins_per_s"] > 0 and figures["emails_per_s"] > 0


def test_the_outbox_benchmark_checks_in_through_the_kiosk_api() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "outbox.py"),
            "--api",
            "--checkins",
            "20",
            "--hosts",
            "3",
            "--concurrency",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["through"] == "kiosk API, 2 kiosks"
    assert figures["emails_received"] == figures["emails_unique"] == 20
