"""Kiosk secrets → credentials, the pairing link, and the guard every kiosk endpoint uses.

Opening ``/kiosk/<secret>`` checks the secret, stores it in the ``hostsync_kiosk`` cookie
(HttpOnly, SameSite=Strict, Secure and ``__Host-`` over HTTPS, 400 days) and redirects to
``/kiosk``, so the secret leaves the address bar and the history. The API accepts the cookie
or ``Authorization: Bearer <secret>``. A cookie-authenticated POST must be sent as
``application/json``, which a cross-site form cannot do without a preflight (CSRF).

Credentials are cached like API keys (web/auth.py): an entry is trusted while the key
signal's generation is unchanged and for at most ``ttl`` seconds, so a kiosk revoked anywhere
is refused by the next request that starts after the revocation committed.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from hostsync.caching import StartOver
from hostsync.scim.errors import ScimError
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import (
    KioskCredential,
    authenticate_kiosk,
    kiosk_digest,
    mark_seen,
)
from hostsync.store.key_signal import KeySignal, key_signal_for
from hostsync.web.admin.cookies import read_cookie, set_cookie

KIOSK_COOKIE = "hostsync_kiosk"
COOKIE_SECONDS = 400 * 24 * 3600  # the longest a browser keeps a cookie (RFC 6265bis)
CACHED_KIOSKS_MAX = 10_000

KioskHandler = Callable[[Request, KioskCredential], Awaitable[Response]]


class KioskRefused(Exception):
    """The request carries no valid kiosk secret."""


def api_error(status: int, error: str, detail: str, **headers: str) -> JSONResponse:
    """The kiosk API's error body: ``{"status", "error", "detail"}``."""
    return JSONResponse(
        {"status": status, "error": error, "detail": detail}, status_code=status, headers=headers
    )


class KioskGate:
    """Resolves kiosk secrets to credentials, with a cache a revocation empties at once."""

    def __init__(
        self,
        database: Database,
        ttl: float,
        *,
        public_url: str | None = None,
        signal: KeySignal | None = None,
    ) -> None:
        self.database = database
        self.ttl = ttl
        self.public_url = public_url
        self.signal = signal if signal is not None else key_signal_for(database.url)
        self._cache: StartOver[str, tuple[KioskCredential | None, float, int]] = StartOver(
            CACHED_KIOSKS_MAX
        )
        self._lock = threading.Lock()

    def secret_of(self, request: Request) -> tuple[str, bool]:
        """The secret the request presents, and whether it came from the cookie."""
        authorization = request.headers.get("authorization")
        if authorization:
            scheme, _, secret = authorization.strip().partition(" ")
            if scheme.lower() == "bearer" and secret.strip():
                return secret.strip(), False
            return "", False
        return read_cookie(request, self.public_url, KIOSK_COOKIE), True

    def cached(self, secret: str) -> KioskCredential | None:
        """The kiosk's credential when the cache holds it fresh, else None; never does I/O.

        Lets the endpoints skip the thread :meth:`credential` runs in (it may read the
        database) for the requests of a kiosk already verified: most of them.
        """
        if not secret:
            return None
        hit, found = self._trusted(kiosk_digest(secret))
        return found if hit else None

    def _trusted(self, key: str) -> tuple[bool, KioskCredential | None]:
        """(whether the cache answers, its answer: the credential or None for a refusal)."""
        with self._lock:
            entry = self._cache.get(key)
        if entry is None or entry[1] <= time.monotonic():
            return False, None
        if self.signal.generation() != entry[2]:  # None (unknown) never equals
            return False, None
        return True, entry[0]

    async def verified(self, secret: str) -> KioskCredential:
        """The kiosk's credential, or :class:`KioskRefused`.

        From the cache, on the loop; else from :meth:`credential`, in a thread.
        """
        cached = self.cached(secret)
        if cached is not None:
            return cached
        return await run_in_threadpool(self.credential, secret)

    def credential(self, secret: str) -> KioskCredential:
        """The kiosk's credential, or :class:`KioskRefused`; may read the database."""
        if not secret:
            raise KioskRefused
        key = kiosk_digest(secret)
        hit, trusted = self._trusted(key)
        if hit:
            if trusted is None:
                raise KioskRefused
            return trusted
        generation = self.signal.generation()  # before the lookup (web/auth.py)
        moment = time.monotonic()
        with self.database.connect(write=False) as connection:
            found = authenticate_kiosk(connection, secret)
        if found is not None:
            with self.database.connect(write=True) as connection:
                mark_seen(connection, found.kiosk_id, found.last_seen_at)
        if generation is not None and self.ttl > 0:
            with self._lock:
                self._cache.put(key, (found, moment + self.ttl, generation))
        if found is None:
            raise KioskRefused
        return found

    def api(self, handler: KioskHandler) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that runs ``handler`` for a valid kiosk, else answers a JSON 401."""

        async def endpoint(request: Request) -> Response:
            secret, from_cookie = self.secret_of(request)
            try:
                credential = await self.verified(secret)
            except KioskRefused:
                return api_error(
                    401,
                    "unpaired",
                    "This kiosk is not paired or was revoked: open its link again",
                    **{"WWW-Authenticate": "Bearer"},
                )
            except ScimError as exc:  # the database is busy or down: the kiosk's error body
                retry = getattr(exc, "retry_after", None)
                return api_error(
                    exc.status,
                    "unavailable" if exc.status >= 500 else "refused",
                    exc.detail,
                    **({"Retry-After": str(retry)} if retry is not None else {}),
                )
            if request.method == "POST" and from_cookie and not _is_json(request):
                return api_error(415, "json_required", "Send the body as application/json")
            return await handler(request, credential)

        return endpoint

    async def pair(self, request: Request) -> Response:
        """``GET /kiosk/{secret}``: remember the secret in a cookie and open the kiosk page."""
        secret = str(request.path_params["secret"])
        try:
            await run_in_threadpool(self.credential, secret)
        except KioskRefused:
            return unpaired_page(
                "This kiosk link is not valid. It may have been revoked: ask your administrator "
                "for a new one.",
                status_code=404,
            )
        response = RedirectResponse("/kiosk", status_code=303)
        set_cookie(
            response,
            request,
            self.public_url,
            KIOSK_COOKIE,
            secret,
            max_age=COOKIE_SECONDS,
            same_site="strict",
        )
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def close(self) -> None:
        """Release the signal's connection (on shutdown)."""
        self.signal.close()


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json"


def unpaired_page(message: str, *, status_code: int) -> Response:
    """A plain page for a kiosk that cannot open (no pairing, a revoked link)."""
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        "<title>Kiosk not paired</title>"
        '<link rel=icon href="/static/kiosk/kiosk-icon.svg" type="image/svg+xml">'
        '<link rel=stylesheet href="/static/kiosk/kiosk.css">'
        '<main><section class="screen">'
        f"<h1>Kiosk not paired</h1><p class=lead>{html.escape(message)}</p></section></main></html>"
    )
    return Response(
        body,
        status_code=status_code,
        media_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            # The kiosk's stylesheet and icon, nothing else (no script on this page).
            "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        },
    )


def settings_document(
    credential: KioskCredential, site: Any, *, idle_seconds: int = 30
) -> dict[str, Any]:
    """What ``GET /v1/kiosk/settings`` tells a kiosk about itself and its site."""
    return {
        "kiosk": {"id": credential.kiosk_id, "label": credential.label},
        "site": {"id": site.id, "name": site.name, "timezone": site.timezone},
        "privacy": site.privacy,
        "idle_seconds": idle_seconds,
    }
