"""The edge of every request: which ``Host`` is served, and the headers every answer carries.

:class:`EdgeMiddleware` wraps the whole application, outside Starlette's error handling, so
its rules hold for every response: SCIM JSON, console pages and redirects, CSV exports, static
files, errors, 404s, 429s and 500s (docs/hardening.md, "Allowed hosts", "Response headers").

* ``<base>//Users`` is served as ``<base>/Users``: Entra doubles the slash when a Tenant URL
  is entered with a trailing slash; everything inside sees the collapsed path.
* A request whose ``Host`` is not in :class:`AllowedHosts` answers 400 before anything else
  runs (a SCIM error body under the SCIM prefix, a line of plain text elsewhere). A browser
  sends the name it resolved, so a page on an attacker's domain that DNS-rebinds to a local
  ``hostsync demo`` is refused.
* Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
  ``X-Frame-Options: DENY`` and, unless it set its own (the console's pages do), a
  ``Content-Security-Policy`` that allows nothing; ``Cache-Control: no-store`` unless it set
  its own or is a static file; ``Strict-Transport-Security`` when served over HTTPS (the
  request's scheme, which ``--proxy-headers`` takes from a trusted proxy, or an ``https``
  public URL). The header lines are built once and appended as raw bytes; a response that
  already names one keeps its own, except under the SCIM prefix, whose responses must leave
  these headers to this middleware (they are appended unchecked: the hot path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.scim.errors import BadRequestError
from hostsync.web.rendering import error_response

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
STATIC_PREFIX = "/static/"
HSTS = b"max-age=31536000"
_BASE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
_NO_STORE = ((b"cache-control", b"no-store"),)
_HSTS = ((b"strict-transport-security", HSTS),)
_SERVED_CACHE = 64


def host_name(value: str) -> str:
    """The name in a ``Host`` header or an allowed-hosts entry: lower case, no port.

    ``Example.COM:8443`` → ``example.com``; ``[::1]:8000`` → ``[::1]``; a bare IPv6
    address (``::1``, as an entry may be written) → ``[::1]``; a trailing dot is dropped.
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value if end < 0 else value[: end + 1]
    if value.count(":") > 1:
        return f"[{value}]"
    name, colon, port = value.rpartition(":")
    if colon and port.isdigit():
        value = name
    return value.removesuffix(".")


class AllowedHosts:
    """The host names a server answers: exact names, ``*.domain`` suffixes, or ``*``."""

    def __init__(self, entries: Iterable[str]) -> None:
        names = [entry.strip() for entry in entries if entry.strip()]
        self.any = "*" in names
        self.suffixes = tuple(
            host_name(entry[1:]) for entry in names if entry.startswith("*.")
        )  # "*.example.com" → ".example.com": subdomains only
        self.exact = frozenset(host_name(entry) for entry in names if not entry.startswith("*"))

    @classmethod
    def from_settings(cls, settings: Settings) -> AllowedHosts:
        """Loopback names, the public URL's host, and ``HOSTSYNC_ALLOWED_HOSTS``."""
        entries = [*LOOPBACK_HOSTS, *settings.allowed_hosts.split(",")]
        if settings.public_url:
            public = urlsplit(settings.public_url).netloc.rpartition("@")[2]
            entries.append(public)
        return cls(entries)

    def allows(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header (None: none sent) is answered."""
        if self.any:
            return True
        if not header:
            return False
        name = host_name(header)
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))


def _refusal(scope: Scope, host: str | None) -> Response:
    shown = "none" if host is None else repr(host[:100])
    detail = (
        f"Host header {shown} is not served here; add the name to HOSTSYNC_ALLOWED_HOSTS "
        "or HOSTSYNC_PUBLIC_URL"
    )
    if scope["path"].startswith(SCIM_PREFIX):
        return error_response(BadRequestError(detail))
    return PlainTextResponse(detail + "\n", status_code=400)


class EdgeMiddleware:
    """ASGI middleware: refuse unknown hosts; add the security headers to every response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hosts = AllowedHosts.from_settings(settings)
        self._served: set[bytes] = set()  # raw Host values already allowed (bounded)
        always_https = (settings.public_url or "").lower().startswith("https://")
        base = list(_BASE_HEADERS)
        self._plain = [*base, *_NO_STORE, *(_HSTS if always_https else ())]
        self._secure = [*base, *_NO_STORE, *_HSTS]
        self._static_plain = [*base, *(_HSTS if always_https else ())]
        self._static_secure = [*base, *_HSTS]
        self._names = frozenset(name for name, _ in self._secure)

    def _allowed(self, host: bytes | None) -> bool:
        if not self.hosts.allows(None if host is None else host.decode("latin-1")):
            return False
        if host is not None and len(self._served) < _SERVED_CACHE:
            self._served.add(host)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the host, collapse ``//``, pass the request on with a header-adding ``send``."""
        if scope["type"] != "http":  # lifespan (and websockets, which hostsync does not serve)
            await self.app(scope, receive, send)
            return
        host: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
                break
        path: str = scope["path"]
        if "//" in path:  # see the module docstring
            while "//" in path:
                path = path.replace("//", "/")
            scope = dict(scope, path=path, raw_path=path.encode())
        https = scope.get("scheme") == "https"
        if path.startswith(SCIM_PREFIX):  # SCIM answers never set these headers themselves
            extra = self._secure if https else self._plain
            names: frozenset[bytes] | None = None
        else:
            if path.startswith(STATIC_PREFIX):
                extra = self._static_secure if https else self._static_plain
            else:
                extra = self._secure if https else self._plain
            names = self._names

        def send_with_headers(message: Message) -> Awaitable[None]:
            # Not a coroutine of its own: it returns ``send``'s (one frame less per message).
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                if names is not None:
                    for name, _ in headers:
                        if name in names:  # the response set some itself: add the others
                            present = {name.lower() for name, _ in headers}
                            message["headers"] = [
                                *headers,
                                *(line for line in extra if line[0] not in present),
                            ]
                            return send(message)
                message["headers"] = [*headers, *extra]
            return send(message)

        if host not in self._served and not self._allowed(host):
            text = None if host is None else host.decode("latin-1")
            await _refusal(scope, text)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
