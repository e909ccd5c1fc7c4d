"""HTTP connections: uvicorn's protocol, plus a warning when one ends with a request in flight.

A connection that ends while a request is read but not yet answered (or pipelined behind one)
leaves its client unable to know whether the request was carried out; whoever closed it, the
server logs one warning with the client's address, the method and the path, never the query
string (filter values name people). The check runs once per connection, when it ends.

When the server itself closes a connection: only an idle one, once its keep-alive has run out
(``HOSTSYNC_KEEP_ALIVE_SECONDS``). A request that leaves the client after that close has
begun fails whatever the server does, and HTTP/1.1 leaves it to clients (RFC 9112 §9.3.1,
§9.5); servers make it rare by keeping idle connections longer than their clients and proxies
do, so that those close first (docs/hardening.md, *Keep-alive*). A request that reached the
socket while the event loop was blocked past the deadline is read before the timer can close
the connection: uvloop (libuv ≥ 1.45) polls the sockets before it runs the timers that fell due
meanwhile, as asyncio's own loop does (tests/cli/test_connections.py).
Measured: bench/JOURNAL.md#soak-dropped-connections
"""

from __future__ import annotations

import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, logging a connection that ends with a request in flight."""

    def connection_lost(self, exc: Exception | None) -> None:
        """Warn if a request was in flight (module doc); then uvicorn's own handling."""
        cycle = self.cycle
        unanswered = cycle is not None and not cycle.response_complete
        if unanswered or self.pipeline:
            in_flight = cycle if unanswered and cycle is not None else self.pipeline[-1][0]
            log.warning(
                "connection from %s %s with %d request(s) in flight, first %s %s",
                f"{self.client[0]}:{self.client[1]}" if self.client else "an unknown address",
                "reset" if exc is not None else "closed",
                len(self.pipeline) + (1 if unanswered else 0),
                in_flight.scope["method"],
                in_flight.scope["path"],
            )
        super().connection_lost(exc)
