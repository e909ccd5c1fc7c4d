"""bench/noisy_neighbour.py works: seeds two tenants, serves them, drives them, prints its line.

Correctness only: a tiny run (nothing here measures speed; bench/README.md has the figures).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import noisy_neighbour as bench_noisy  # noqa: E402 - bench/ is a directory of scripts


def test_worst_cases_hold_long_chains_and_unindexed_sorts() -> None:
    """A's clients send a chain at the scan-term cap, one far past it, and unindexed sorts."""
    cases = bench_noisy.worst_cases(10)
    chains = [case["filter"].count(" or ") + 1 for case in cases if "filter" in case]
    assert 10 in chains and max(chains) == 200
    assert any("sortBy" in case and "filter" not in case for case in cases)
    assert bench_noisy.percentile([], 0.99) == 0.0
    assert bench_noisy.percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_a_tiny_noisy_neighbour_run_prints_its_figures(tmp_path: Path) -> None:
    """Seeded, served and driven for a second: B's lookups all answer 200, A's answers keep
    the rules (a result, 400 or 503 with Retry-After, within 2 s), and a second run reuses
    the seeded tenants."""
    command = [
        sys.executable,
        str(BENCH / "noisy_neighbour.py"),
        "--users",
        "300",
        "--b-users",
        "10",
        "--duration",
        "1.5",
        "--workdir",
        str(tmp_path),
        "--server-cpus",
        "",
        "--load-cpus",
        "",
        "--out",
        str(tmp_path / "out.jsonl"),
    ]
    for extra in ([], ["--reuse"]):
        done = subprocess.run(
            command + extra, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        record = json.loads(done.stdout.strip().splitlines()[-1])
        assert record["scenario"] == "noisy-neighbour"
        assert record["users"] == 300 and record["database"] == "sqlite"
        assert record["b_lookups"] > 0 and record["b_not_200"] == {}
        assert record["a_requests"] > 0 and record["a_broken"] == 0
        assert set(record["a_status"]) <= {"200", "400", "503"}
        assert record["b_p50_ms"] <= record["b_p99_ms"] <= record["b_max_ms"]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2
