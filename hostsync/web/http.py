"""Cheap reads of an ASGI request, and route endpoints without Starlette's second wrapper.

Each read gives what Starlette's own accessor gives (tests/web/test_request_path.py holds
them to it) without rebuilding what a SCIM request never uses.
Measured: bench/JOURNAL.md#request-shortcuts
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hostsync.scim.schema import ResourceType


def header(request: Request, name: bytes) -> str | None:
    """The request header ``name`` (lower case), as ``request.headers.get`` gives it.

    Starlette's ``Headers.get`` lowercases the name and scans the raw list on every call;
    the raw list is read into a dict once per request instead, the first of repeated headers
    kept, as Starlette keeps it.
    """
    scope = request.scope
    headers: dict[bytes, bytes] | None = scope.get("hostsync.headers")
    if headers is None:
        headers = {}
        for key, value in scope["headers"]:
            headers.setdefault(key, value)
        scope["hostsync.headers"] = headers
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def query_params(request: Request) -> dict[str, str]:
    """The query string's parameters as ``request.query_params`` gives them, as a plain dict.

    The last of a repeated name wins, as in Starlette's ``QueryParams``, which builds a
    multi-dict around the same ``parse_qsl`` that a lookup pays for and never uses.
    """
    scope = request.scope
    params: dict[str, str] | None = scope.get("hostsync.query")
    if params is None:
        raw = scope.get("query_string", b"").decode("latin-1")
        params = scope["hostsync.query"] = parse_query(raw)
    return params


def parse_query(raw: str) -> dict[str, str]:
    """``dict(parse_qsl(raw, keep_blank_values=True))``, in less of its time.

    The same pairs (split on ``&``, empty ones skipped, ``+`` as a space, percent-escapes
    decoded as UTF-8 with errors replaced), but only a part that holds a ``+`` or ``%`` goes
    through ``unquote``, and there is no generator of pairs.
    """
    params: dict[str, str] = {}
    for pair in raw.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "+" in name or "%" in name:
            name = unquote(name.replace("+", " "))
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "))
        params[name] = value
    return params


def request_path(scope: Any) -> str:
    """The request's path as ``request.url.path`` gives it, without building the whole URL.

    Starlette's ``request.url`` rebuilds and re-parses the full URL from the scope on every
    request; the path alone is the scope's, with the same three characters escaped and, as
    ``urllib.parse.urlsplit`` does, tabs and line breaks (a client can send them
    percent-encoded) taken out.
    """
    path: str = scope["path"]
    if not path.isprintable():
        path = path.replace("\t", "").replace("\r", "").replace("\n", "")
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


class Endpoint:
    """A handler as the ASGI app of its route: ``request_response`` less a second wrapper.

    Starlette's ``request_response`` wraps every call in the exception handling that the
    app's ``ExceptionMiddleware`` already gives (the same handlers, from the same scope key),
    and builds two closures per request to do it; an error raised here reaches those
    handlers one layer up instead. ``resource_type`` is put in the scope for the handler.
    """

    __slots__ = ("handler", "resource_type")

    def __init__(
        self, handler: Callable[[Request], Any], resource_type: ResourceType | None = None
    ) -> None:
        self.handler = handler
        self.resource_type = resource_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        if self.resource_type is not None:
            scope["hostsync.resource_type"] = self.resource_type
        response: Response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)
