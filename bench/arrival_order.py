"""How the order a server takes requests in sets its p99: a fixed-work app, batches vs turns.

    python bench/arrival_order.py [--work-us 300] [--duration 6] [--rounds 2]
                                  [--connections 16] [--server-cpus 0] [--load-cpus 1]

Serves bench/arrival_app.py (a fixed amount of CPU work per request, no I/O) under uvicorn on
the server core and drives it with wrk from the other, as bench/run does hostsync, once with
the work run straight away (``batches``, what a plain ASGI app does) and once through
:class:`hostsync.web.turns.Turns` (``turns``, what hostsync does with its SQLite units of
work), alternately for ``--rounds`` rounds. Prints one JSON line per run: requests/s, p50,
p90 and p99 latency from wrk, and how many requests the app served between two of one
connection's (``between_p50``; ``share_late``: the share of requests that waited for more
than one round of the other connections, i.e. missed a batch).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from run import ROOT, ensure_wrk, free_port, pinned, uvicorn_server  # bench/ is on the path

_PERCENTILE = re.compile(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk_latency(output: str) -> dict[str, float]:
    """requests_per_s and the p50/p90/p99 in ms from ``wrk --latency``'s report."""
    rate = _RATE.search(output)
    found = {f"p{p}_ms": float(v) * _UNIT_MS[u] for p, v, u in _PERCENTILE.findall(output)}
    if rate is None or len(found) != 3:
        raise SystemExit(f"bench/arrival_order: could not read wrk's report:\n{output}")
    return {"requests_per_s": float(rate.group(1)), **{k: round(v, 3) for k, v in found.items()}}


def between_figures(between: dict[str, int], connections: int) -> dict[str, float]:
    """The median of served-between and the share of requests past one round of the others."""
    counts = sorted((int(gap), count) for gap, count in between.items())
    total = sum(count for _, count in counts)
    if not total:
        return {"between_p50": 0.0, "share_late": 0.0}
    seen, median = 0, 0
    for gap, count in counts:
        seen += count
        if seen * 2 >= total:
            median = gap
            break
    late = sum(count for gap, count in counts if gap > connections)
    return {"between_p50": float(median), "share_late": round(late / total, 4)}


def run_once(mode: str, args: argparse.Namespace, wrk: str, scratch: Path) -> dict[str, Any]:
    """Serve the app in ``mode``, drive it with wrk, and return the figures."""
    port = free_port()
    out = scratch / f"between-{mode}.json"
    out.unlink(missing_ok=True)
    server = uvicorn_server(
        f"arrival-{mode}",
        "arrival_app:app",
        port,
        args.server_cpus,
        scratch / f"server-{mode}.log",
        env={
            "PYTHONPATH": str(ROOT),
            "ARRIVAL_MODE": mode,
            "ARRIVAL_WORK_US": str(args.work_us),
            "ARRIVAL_OUT": str(out),
        },
    )
    load = pinned(
        args.load_cpus,
        [
            wrk,
            "-t1",
            f"-c{args.connections}",
            f"-d{max(1, round(args.duration))}s",
            "--latency",
            f"http://127.0.0.1:{port}/",
        ],
    )
    with server.running():
        completed = subprocess.run(load, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"bench/arrival_order: wrk failed: {completed.stderr.strip()}")
    figures = parse_wrk_latency(completed.stdout)
    between = json.loads(out.read_text()) if out.exists() else {}
    return {
        "mode": mode,
        "work_us": args.work_us,
        "connections": args.connections,
        **figures,
        **between_figures(between, args.connections),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-us", type=float, default=300.0, help="CPU work per request")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="hostsync-arrival-") as scratch:
        for round_number in range(1, args.rounds + 1):
            for mode in ("batches", "turns"):
                figures = run_once(mode, args, wrk, Path(scratch))
                print(json.dumps({"round": round_number, **figures}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
