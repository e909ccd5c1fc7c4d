"""bench/host_search.py works end to end on a tiny run (correctness only: no speed is asserted)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from host_search import Names, queries  # noqa: E402 - bench/ is a directory of scripts

from hostsync.frontdesk.names import fold  # noqa: E402


def test_names_and_queries_are_varied_and_deterministic() -> None:
    generator = Names()
    names = [generator.next() for _ in range(2000)]
    assert len(set(names)) > 500
    assert any(fold(given) != given.lower() for given, _ in names)  # accents
    assert queries(50) == queries(50)
    two = [query for query in queries(1000) if " " in query]
    assert 200 < len(two) < 400
    assert all(len(fold(query)) >= 2 for query in queries(1000))


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (bench/run installs it)"
)
def test_a_tiny_run_checks_a_deactivation_and_prints_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "host_search.py"),
            "--hosts",
            "300",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--workdir",
            str(tmp_path),
            "--server-cpus",
            "",
            "--load-cpus",
            "",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "PYTHONPATH": str(BENCH.parent)},
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    check, figures = lines[-2], lines[-1]
    assert check["found_before"] is True and check["found_after"] is False
    assert figures["scenario"] == "host-search"
    assert figures["errors"] == 0 and figures["requests"] > 0
