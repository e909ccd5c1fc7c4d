"""The stack's own ceiling: what uvicorn (and Starlette) answer with no SCIM work at all.

``bare``: a raw ASGI app answering a small JSON body. ``starlette``: a Starlette route that
checks the Authorization header and answers orjson, roughly hostsync's per-request minimum.
bench/run.py serves each under uvicorn on the server core and drives it with the same wrk
Lua script, which also shows what the load generator can do.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'{"ok":true}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"11")]


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


async def _root(request: Request) -> Response:
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return Response(status_code=401)
    return Response(orjson.dumps({"ok": True}), media_type="application/json")


starlette = Starlette(routes=[Route("/", _root)])
