"""One request to an ASGI application in-process: no socket, no HTTP parser.

Imports nothing but the standard library: ``bench/scim2_app.py`` uses it in scim2-server's
virtual environment, ``bench/inprocess.py`` in hostsync's.
"""

from __future__ import annotations

from typing import Any


async def call_asgi(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    """Send ``body`` as the whole request of ``scope``; the response's status and body."""
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)
