"""Instructions per request under callgrind, for the working tree and, optionally, a base revision.

    python bench/instructions.py [--base REV] [--users 100000] [--scenarios lookup,create]
                                 [--requests N] [--workdir DIR] [--concurrency 1]

On this shared machine wrk figures move by ±30 % with the hour and in-process wall times by
±25 % from one round to the next (bench/README.md), more than most changes to the request
path. ``valgrind --tool=callgrind`` counts instructions instead: the same build, data and
requests give the same count whatever else the machine does. This script seeds one directory
(``bench/seed.py``), then for each scenario and each build runs ``bench/inprocess.py`` (this
checkout's, so both builds get the same requests) on a fresh copy of it under callgrind,
counting only the measured requests (``--instr-atstart=no`` and ``callgrind_control``). The
SQLite checkpoint thread is started but never runs a round, so no checkpoint falls inside the
count. ``--base REV`` checks the revision out with ``git worktree`` (removed afterwards) and
imports hostsync from there instead of this checkout.

Prints one JSON line per build and scenario (instructions per request), then a Markdown table
with the change. What callgrind does not count: system calls (a commit's writes), waiting,
and the cost of cache misses; pair it with ``bench/run`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from inprocess import SCENARIOS  # noqa: E402 - bench/ is a directory of scripts
from seed import seed  # noqa: E402

READS = {"floor", "lookup", "get-user", "get-group"}
PAGES = {"page", "page-first", "page-last"}
_TOTALS = re.compile(rb"^totals:\s*(\d+)", re.MULTILINE)

# Run in the process valgrind starts: hostsync from the tree under test, this checkout's driver.
_RUNNER = """
import sys
tree, bench = sys.argv[1], sys.argv[2]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path[:0] = [tree, bench]
import hostsync
if not hostsync.__file__.startswith(tree):
    raise SystemExit(f"hostsync came from {hostsync.__file__}, not {tree}")
try:
    import hostsync.store.sqlite.checkpoint as checkpoint
except ModuleNotFoundError:  # a tree from before the SQLite wing (issue 19)
    import hostsync.store.checkpoint as checkpoint
_init = checkpoint.WalCheckpointer.__init__
def _never(self, path, interval=0.2, *args, **kwargs):
    _init(self, path, 1e9, *args, **kwargs)  # started, but no round inside the count
checkpoint.WalCheckpointer.__init__ = _never
import inprocess
inprocess.main(sys.argv[3:])
"""


def default_requests(scenario: str) -> int:
    """Enough requests for a steady mean, few enough for valgrind's 50-fold slowdown."""
    if scenario in READS:
        return 1000
    if scenario in PAGES:
        return 60
    return 300


def count(
    tree: Path, snapshot: Path, scenario: str, requests: int, scratch: Path, concurrency: int = 1
) -> float:
    """Instructions per request of ``scenario`` with hostsync from ``tree``."""
    run = scratch / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(snapshot, run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["database_url"] = f"sqlite:///{run / 'bench.db'}"
    (run / "manifest.json").write_text(json.dumps(manifest))
    out = scratch / "callgrind.out"
    out.unlink(missing_ok=True)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-c",
        _RUNNER,
        str(tree),
        str(BENCH),
        "--workdir",
        str(run),
        "--scenarios",
        scenario,
        "--requests",
        str(requests),
        "--concurrency",
        str(concurrency),
    ]
    environment = {**os.environ, "HOSTSYNC_BENCH_CALLGRIND": "1"}
    completed = subprocess.run(
        command, capture_output=True, text=True, env=environment, check=False
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"bench/instructions: {scenario} failed under callgrind:\n{completed.stderr[-2000:]}"
        )
    statuses = json.loads(completed.stdout.splitlines()[-1])["statuses"]
    if any(not code.startswith("2") for code in statuses):
        raise SystemExit(f"bench/instructions: {scenario} answered {statuses}")
    found = _TOTALS.findall(out.read_bytes())  # one per part the run dumped
    if not found:
        raise SystemExit(f"bench/instructions: no totals in {out}")
    return sum(int(total) for total in found) / requests


def checkout(revision: str, where: Path) -> Path:
    """``revision`` checked out (detached) in a worktree at ``where``."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(where), revision],
        capture_output=True,
        text=True,
        check=True,
    )
    return where


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="a git revision to compare the working tree with")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--requests", type=int, help="per scenario (default: by its kind)")
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests in flight at once on the one event loop (bench/inprocess.py)",
    )
    args = parser.parse_args(argv)
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (Debian: apt-get install valgrind)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hostsync-instructions-"))
    workdir.mkdir(parents=True, exist_ok=True)
    snapshot = workdir / "seed"
    shutil.rmtree(snapshot, ignore_errors=True)
    snapshot.mkdir()
    seed(f"sqlite:///{snapshot / 'bench.db'}", snapshot, args.users, quiet=True)
    builds: list[tuple[str, Path]] = []
    base_tree = workdir / "base"
    try:
        if args.base:
            shutil.rmtree(base_tree, ignore_errors=True)
            builds.append((args.base, checkout(args.base, base_tree)))
        builds.append(("working tree", ROOT))
        for _, tree in builds:  # compiled first: no byte-compiling inside a count
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "hostsync")])
        results: dict[tuple[str, str], float] = {}
        for scenario in scenarios:
            requests = args.requests or default_requests(scenario)
            for name, tree in builds:
                per_request = count(tree, snapshot, scenario, requests, workdir, args.concurrency)
                results[(name, scenario)] = per_request
                line = {"build": name, "scenario": scenario, "requests": requests}
                print(json.dumps({**line, "instructions": round(per_request)}), flush=True)
        print(_table(builds, scenarios, results))
    finally:
        if args.base and base_tree.exists():
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)],
                capture_output=True,
                check=False,
            )


def _table(
    builds: list[tuple[str, Path]], scenarios: list[str], results: dict[tuple[str, str], float]
) -> str:
    names = [name for name, _ in builds]
    head = "| scenario | " + " | ".join(f"{name} (M)" for name in names)
    rule = "| --- |" + " ---: |" * len(names)
    if len(names) == 2:
        head += " | change"
        rule += " ---: |"
    lines = [head + " |", rule]
    for scenario in scenarios:
        values = [results[(name, scenario)] for name in names]
        cells = [f"{value / 1e6:.4f}" for value in values]
        if len(values) == 2:
            cells.append(f"{(values[1] / values[0] - 1) * 100:+.1f} %")
        lines.append(f"| `{scenario}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
