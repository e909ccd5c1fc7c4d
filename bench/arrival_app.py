"""A fixed amount of CPU work per request, served in batches or in turns (bench/arrival_order.py).

``ARRIVAL_WORK_US`` microseconds of busy work per request, with no I/O, so any spread in the
latencies wrk sees comes from the order the server takes requests in, not from the work.
``ARRIVAL_MODE=turns`` runs the work through :class:`hostsync.web.turns.Turns`, as hostsync
runs its SQLite units of work; ``batches`` runs it straight away, as a plain ASGI app does.
The app notes which connection (client port) each request came on and, at shutdown, writes
to ``ARRIVAL_OUT`` how many requests it served between two of the same connection's.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

from hostsync.web.turns import Turns

_BODY = b'{"ok":true}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"11")]
_WORK = float(os.environ.get("ARRIVAL_WORK_US", "300")) / 1e6
_TURNS = os.environ.get("ARRIVAL_MODE", "batches") == "turns"
_turns = Turns()
_served: list[int] = []


def _work(connection: int) -> None:
    _served.append(connection)  # in the order the work runs
    end = time.perf_counter() + _WORK
    while time.perf_counter() < end:
        pass


def served_between(connections: list[int]) -> Counter[int]:
    """For each request after a connection's first: requests served since that connection's
    previous one (15 for everyone, in a fair order, with 16 connections)."""
    last: dict[int, int] = {}
    between: Counter[int] = Counter()
    for position, connection in enumerate(connections):
        if connection in last:
            between[position - last[connection] - 1] += 1
        last[connection] = position
    return between


def _write_summary() -> None:
    out = os.environ.get("ARRIVAL_OUT")
    if out:
        between = served_between(_served)
        with open(out, "w") as file:
            json.dump({str(gap): count for gap, count in sorted(between.items())}, file)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                _write_summary()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    client = scope.get("client")
    connection = client[1] if client else 0
    if _TURNS:
        await _turns.run(lambda: _work(connection))
    else:
        _work(connection)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})
