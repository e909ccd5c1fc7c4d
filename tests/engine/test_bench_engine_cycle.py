"""``bench/engine_cycle.py`` end to end on a tiny directory (a real ``hostsync serve``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "engine_cycle.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("engine_cycle", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["engine_cycle"] = module
    spec.loader.exec_module(module)
    return module


def test_bench_runs_three_cycles_and_prints_entra_comparison(tmp_path: Path) -> None:
    """40 users: initial cycle creates all, the unchanged cycle sends 0 requests, changes few."""
    bench = _load()
    figures = bench.run(40, 2, 5, 8, 8, tmp_path, quiet=True)
    initial = figures["initial"]
    assert initial["counts"]["create:success"] == 42  # 40 users + 2 groups
    assert figures["unchanged"]["requests"] == 0
    changes = figures["changes"]
    assert 0 < figures["changed"]["requests"] <= 2 * sum(changes.values())
    lines = bench.render(figures)
    assert any("Entra documents 0.6-4.8 s/object" in line for line in lines)
    assert any("every 40 minutes" in line for line in lines)
