"""Item 6: SIGKILL `hostsync serve` in the middle of a write load, start it again: every
acknowledged write is there and nothing is half-written (SQLite file, WAL)."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import orjson

from hostsync.store.database import Database

from ..live_server import free_port, served
from .conftest import GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, new_tenant

WRITERS = 8
LOAD_SECONDS = 1.5
UNTHROTTLED = {"HOSTSYNC_RATE_LIMIT": "none"}  # this test is about durability


def _writer(
    base: str, key: str, group_id: str, n: int, acked: list[dict[str, str]], stop: threading.Event
) -> None:
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10
    ) as http:
        i = 0
        while not stop.is_set():
            user_name = f"w{n}-{i}@example.com"
            body = {
                "schemas": [USER_SCHEMA],
                "userName": user_name,
                "externalId": f"ext-{n}-{i}",
                "name": {"givenName": f"g{n}-{i}", "familyName": "Durable"},
            }
            try:
                created = http.post("/Users", json=body)
                if created.status_code == 429:  # throttled, not written: try again shortly
                    time.sleep(0.05)
                    continue
                if created.status_code != 201:
                    raise AssertionError(created.text)
                user_id = created.json()["id"]
                acked.append({"kind": "user", "id": user_id, "userName": user_name})
                added = http.patch(
                    f"/Groups/{group_id}",
                    json={
                        "schemas": [PATCH_OP],
                        "Operations": [
                            {"op": "add", "path": "members", "value": [{"value": user_id}]}
                        ],
                    },
                )
                if added.status_code in (200, 204):
                    acked.append({"kind": "member", "id": user_id})
            except httpx.TransportError:
                return  # the server died under us: this write is not acknowledged
            i += 1


def test_sigkill_mid_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Acknowledged creates and member additions all survive a SIGKILL; the file is sound."""
    db_file = tmp_path / "durable.db"
    url = f"sqlite:///{db_file}"
    database = Database(url)
    database.migrate()
    _, key = new_tenant(database, "Durable")
    database.dispose()
    log = tmp_path / "server.log"
    port = free_port()
    acked: list[dict[str, str]] = []
    with (
        served(url, log, port=port, env=UNTHROTTLED) as (process, base),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        group = http.post("/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "All"})
        assert group.status_code == 201, group.text
        group_id = group.json()["id"]
        stop = threading.Event()
        threads = [
            threading.Thread(target=_writer, args=(base, key, group_id, n, acked, stop))
            for n in range(WRITERS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        os.kill(process.pid, signal.SIGKILL)  # mid-load: requests are in flight
        process.wait()
        stop.set()
        for thread in threads:
            thread.join(30)
    users = [a for a in acked if a["kind"] == "user"]
    members = {a["id"] for a in acked if a["kind"] == "member"}
    assert len(users) > 50, "the load produced too few writes to mean anything"

    # The file itself is sound after the crash (before the server touches it again).
    with sqlite3.connect(db_file) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = raw.execute(
            "SELECT id, user_name, user_name_folded, external_id, document FROM users"
        ).fetchall()
    for user_id, user_name, folded, external_id, document in rows:
        doc = orjson.loads(document)
        assert doc["userName"] == user_name and folded == user_name.casefold(), user_id
        assert doc.get("externalId") == external_id, user_id

    with (
        served(url, log, port=free_port(), env=UNTHROTTLED) as (_, base),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
    ):
        for user in users:
            got = http.get(f"/Users/{user['id']}")
            assert got.status_code == 200, (user, got.text)
            assert got.json()["userName"] == user["userName"]
        group_now = http.get(f"/Groups/{group_id}").json()
        present = {m["value"] for m in group_now.get("members", [])}
        assert members <= present, members - present
        total = http.get("/Users", params={"count": "0"}).json()["totalResults"]
    found = len(users)
    print(  # noqa: T201 - the counts this test exists to report (pytest -s)
        f"durability: {found} creates and {len(members)} member additions acknowledged before "
        f"SIGKILL, all {found + len(members)} found after restart; {total} users stored "
        f"({total - found} committed but unacknowledged)"
    )
    from .fuzzstats import COUNTS

    COUNTS["durability_acked"] += found + len(members)
    COUNTS["durability_found"] += found + len(members)
    assert total >= found
