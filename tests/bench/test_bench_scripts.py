"""The benchmark scripts work: the seeder, the wrk plumbing, and (when wrk is installed) a
tiny end-to-end run. Correctness only: nothing here measures speed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import arrival_app as bench_arrival_app  # noqa: E402 - bench/ is a directory of scripts
import arrival_order as bench_arrival  # noqa: E402
import inprocess as bench_inprocess  # noqa: E402
import run as bench_run  # noqa: E402
import seed as bench_seed  # noqa: E402

from hostsync.store.database import Database  # noqa: E402
from hostsync.store.tenants import authenticate  # noqa: E402


def _script(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``bench/<name>`` with this interpreter; its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_seeder_fills_a_tenant_and_writes_the_data_files(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    manifest = bench_seed.seed(url, tmp_path, 40, big_group=12, quiet=True)
    assert manifest["users"] == 40
    assert manifest["big_group_members"] == 12
    assert manifest["small_group_members"] == 10
    assert manifest["pool"] == 18
    lines = (tmp_path / "users.tsv").read_text().splitlines()
    assert len(lines) == 40
    user_id, user_name, external_id = lines[7].split("\t")
    assert user_name == bench_seed.user_name(7) and external_id == "ext-0000007"
    assert len((tmp_path / "pool.tsv").read_text().split()) == 18
    database = Database(url)
    with database.connect(write=False) as connection:
        credential = authenticate(connection, manifest["api_key"])
    assert credential is not None and credential.tenant_id == manifest["tenant_id"]
    with database.directory(manifest["tenant_id"], write=False) as directory:
        user = directory.get_user(user_id)
        members = directory.members_of([manifest["big_group_id"], manifest["small_group_id"]])
    database.dispose()
    assert user is not None and user.document["active"] is True
    assert len(members[manifest["big_group_id"]]) == 12
    assert len(members[manifest["small_group_id"]]) == 10


def test_lua_manifest_and_wrk_command(tmp_path: Path) -> None:
    manifest = {"api_key": 'hsk_a"b', "big_group_id": "g1", "small_group_id": "g2", "x": 1}
    text = bench_run.write_lua_manifest(tmp_path, manifest).read_text()
    assert text == 'return { api_key = "hsk_a\\"b", big_group_id = "g1", small_group_id = "g2" }\n'
    command = bench_run.wrk_command(
        "wrk",
        "http://127.0.0.1:1",
        "lookup",
        tmp_path,
        duration=2,
        connections=16,
        threads=1,
        tag="t",
        offset=5,
        base="/v1/usersync/SCIM",
        load_cpus=None,
    )
    assert command[:4] == ["wrk", "-t1", "-c16", "-d2s"]
    assert command[-6:] == ["--", "lookup", str(tmp_path), "t", "5", "/v1/usersync/SCIM"]


def test_every_scenario_has_a_lua_generator() -> None:
    lua = (BENCH / "scim.lua").read_text()
    for scenario in [*bench_run.SCENARIOS, "bare"]:
        assert f'generators["{scenario}"]' in lua


def test_parse_wrk_output() -> None:
    output = 'Running 1s test\nBENCH {"requests":10,"p50_ms":1.5,"errors":0}\nRequests/sec: 10\n'
    assert bench_run.parse_wrk_output(output) == {"requests": 10, "p50_ms": 1.5, "errors": 0}
    with pytest.raises(bench_run.BenchError):
        bench_run.parse_wrk_output("no figures")


@pytest.mark.skipif(shutil.which("luac") is None, reason="luac is not installed")
def test_lua_script_compiles(tmp_path: Path) -> None:
    subprocess.run(["luac", "-p", str(BENCH / "scim.lua")], check=True)


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (bench/run installs it)"
)
def test_tiny_end_to_end_run_prints_json_lines_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    completed = _script(
        "run.py",
        *[
            "--users",
            "60",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--connections",
            "2",
            "--scenarios",
            ",".join(bench_run.SCENARIOS),
            "--workdir",
            str(tmp_path),
            "--server-cpus",
            "",
            "--load-cpus",
            "",
            "--no-stack",
            "--out",
            str(out),
        ],
    )
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert records == [json.loads(line) for line in out.read_text().splitlines()]
    figures = {r["scenario"]: r for r in records if r["scenario"] != "rss"}
    (rss,) = [r for r in records if r["scenario"] == "rss"]
    assert 0 < rss["rss_anon_mb"] < rss["rss_mb"]
    assert abs(rss["rss_anon_mb"] + rss["rss_file_mb"] - rss["rss_mb"]) < 5  # + shared memory
    assert set(figures) == set(bench_run.SCENARIOS)
    for scenario, record in figures.items():
        assert record["errors"] == 0, scenario
        assert record["requests"] > 0, scenario
        assert record["p50_ms"] <= record["p99_ms"], scenario


def test_the_server_imports_this_checkouts_hostsync_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m`` looks in the working directory first; another checkout's hostsync there
    must not be the one served (an A/B against a worktree would compare one build)."""
    impostor = tmp_path / "elsewhere" / "hostsync"
    impostor.mkdir(parents=True)
    (impostor / "__init__.py").write_text("raise SystemExit('the wrong hostsync')\n")
    (impostor / "__main__.py").write_text("raise SystemExit('the wrong hostsync')\n")
    monkeypatch.chdir(impostor.parent)
    server = bench_run.hostsync_server(
        f"sqlite:///{tmp_path / 'served.db'}",
        bench_run.free_port(),
        1,
        None,
        tmp_path / "server.log",
    )
    with (
        server.running(),
        urllib.request.urlopen(server.url + "/healthz", timeout=5) as answer,  # noqa: S310
    ):
        assert answer.status == 200


def _cached_bytes(path: Path) -> int:
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.split()[0])


@pytest.mark.skipif(shutil.which("fincore") is None, reason="needs util-linux's fincore")
def test_warming_reads_the_sqlite_file_into_the_page_cache(tmp_path: Path) -> None:
    path = tmp_path / "bench.db"
    path.write_bytes(b"\x01" * (8 << 20))
    with path.open("rb") as written:
        os.fsync(written.fileno())  # clean pages, which the advice below can drop
        os.posix_fadvise(written.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    assert _cached_bytes(path) < (1 << 20)
    bench_run.warm_sqlite_file(f"sqlite:///{path}")
    assert _cached_bytes(path) == 8 << 20
    bench_run.warm_sqlite_file("postgresql://postgres@127.0.0.1/none")  # not a file: nothing


def test_inprocess_driver_runs_every_scenario_with_success_statuses(tmp_path: Path) -> None:
    bench_seed.seed(f"sqlite:///{tmp_path / 'bench.db'}", tmp_path, 150, big_group=40, quiet=True)
    completed = _script(
        "inprocess.py", "--workdir", str(tmp_path), "--requests", "30", "--concurrency", "3"
    )
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [r["scenario"] for r in records] == list(bench_inprocess.SCENARIOS)
    for record in records:
        assert record["concurrency"] == 3
        expected = "201" if record["scenario"] == "create" else "200"
        assert record["statuses"] == {expected: 30}, record
        assert 0 < record["p50_us"] <= record["p99_us"], record
        assert 0 < record["window_p50_us"] <= record["window_p99_us"], record
        assert record["checkpoint_rounds"] >= 0 and record["checkpoint_cpu_ms"] >= 0, record
    database = Database(f"sqlite:///{tmp_path / 'bench.db'}")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    with database.directory(manifest["tenant_id"], write=False) as directory:
        members = directory.members_of([manifest["big_group_id"]])[manifest["big_group_id"]]
    database.dispose()
    assert len(members) == 40  # the remove scenario took out exactly what the add put in


def test_inprocess_driver_names_a_missing_workdir(tmp_path: Path) -> None:
    completed = _script("inprocess.py", "--workdir", str(tmp_path), timeout=60)
    assert completed.returncode == 2
    assert "manifest.json not found" in completed.stderr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_counts_for_the_working_tree_and_a_base_revision(tmp_path: Path) -> None:
    """bench/instructions.py counts both builds' requests under callgrind and prints a table;
    the base revision's worktree is gone afterwards."""
    completed = _script(
        "instructions.py",
        "--base",
        "HEAD",
        "--users",
        "150",
        "--scenarios",
        "lookup",
        "--requests",
        "5",
        "--workdir",
        str(tmp_path),
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert [(r["build"], r["scenario"]) for r in records] == [
        ("HEAD", "lookup"),
        ("working tree", "lookup"),
    ]
    for record in records:  # a lookup is hundreds of thousands of instructions, not zero
        assert 100_000 < record["instructions"] < 10_000_000, record
    assert lines[-3].startswith("| scenario | HEAD (M) | working tree (M) | change")
    assert lines[-1].startswith("| `lookup` |") and lines[-1].endswith(" % |")
    assert not (tmp_path / "base").exists()
    worktrees = subprocess.run(
        ["git", "-C", str(BENCH.parent), "worktree", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(tmp_path) not in worktrees


def test_instruction_counts_name_an_unknown_scenario(tmp_path: Path) -> None:
    completed = _script("instructions.py", "--scenarios", "lookup,nope", timeout=60)
    assert completed.returncode == 2
    assert "unknown scenario(s) nope" in completed.stderr


def test_served_between_counts_the_requests_between_two_of_one_connection() -> None:
    # Three connections in a fair order, then 3 misses a round: 1 and 2 go twice meanwhile.
    order = [1, 2, 3, 1, 2, 3, 1, 2, 1, 2, 3]
    between = bench_arrival_app.served_between(order)
    assert between == {2: 5, 1: 2, 4: 1}
    figures = bench_arrival.between_figures({str(k): v for k, v in between.items()}, 3)
    assert figures == {"between_p50": 2.0, "share_late": round(1 / 8, 4)}


def test_parse_wrk_latency_reads_the_percentiles_in_milliseconds() -> None:
    report = """Running 1s test @ http://127.0.0.1:1/
  Latency Distribution
     50%  850.00us
     75%    1.20ms
     90%    2.50ms
     99%    1.02s
Requests/sec:   2315.48
"""
    assert bench_arrival.parse_wrk_latency(report) == {
        "requests_per_s": 2315.48,
        "p50_ms": 0.85,
        "p90_ms": 2.5,
        "p99_ms": 1020.0,
    }
    with pytest.raises(SystemExit):
        bench_arrival.parse_wrk_latency("no report")


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (bench/run installs it)"
)
def test_arrival_order_runs_both_modes_and_counts_what_it_served() -> None:
    completed = _script(
        "arrival_order.py",
        *["--work-us", "50", "--duration", "1", "--rounds", "1", "--connections", "4"],
        *["--server-cpus", "", "--load-cpus", ""],
    )
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [r["mode"] for r in records] == ["batches", "turns"]
    for record in records:
        assert record["requests_per_s"] > 0, record
        assert record["p50_ms"] <= record["p90_ms"] <= record["p99_ms"], record
        # Four connections, one request each at a time: three others between two of one's.
        assert 1 <= record["between_p50"] <= 6, record
