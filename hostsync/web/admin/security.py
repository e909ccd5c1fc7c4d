"""Console security: session cookies, CSRF tokens, the sign-in rate limit, response headers.

* The session cookie holds a random token (only its digest is stored), is ``HttpOnly``,
  ``SameSite=Lax``, and ``Secure`` whenever the console is reached over HTTPS (the request's
  scheme, or ``HOSTSYNC_PUBLIC_URL`` starting with ``https://``).
* Every form carries a CSRF token: the session's own once signed in; before sign-in, a random
  token that must also be in a short-lived ``SameSite=Strict`` cookie (double submit).
  A POST whose ``Origin`` header names another host is refused as well.
* Sign-in attempts are limited in memory, per server process: 5 failures per client address and
  e-mail, and 30 per address, in 15 minutes. Behind several workers each counts on its own.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "hostsync_session"
SIGNIN_CSRF_COOKIE = "hostsync_signin_csrf"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def is_https(request: Request, public_url: str | None) -> bool:
    """Whether the console is served over HTTPS (so cookies get ``Secure``)."""
    if public_url and public_url.lower().startswith("https://"):
        return True
    return request.url.scheme == "https"


def set_cookie(
    response: Response,
    request: Request,
    public_url: str | None,
    name: str,
    value: str,
    *,
    max_age: int,
    same_site: str = "lax",
) -> None:
    """Set an HttpOnly cookie, Secure over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=is_https(request, public_url),
        samesite=same_site,  # type: ignore[arg-type]
    )


def new_token() -> str:
    """A random token for CSRF cookies."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, presented: object) -> bool:
    """Constant-time comparison of a CSRF token with the presented form value."""
    if not expected or not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def same_origin(request: Request) -> bool:
    """False only when the request carries an ``Origin`` of another host."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def client_address(request: Request) -> str:
    """The peer's address (uvicorn's ``--proxy-headers`` makes it the forwarded one)."""
    return request.client.host if request.client else "unknown"


class SignInLimiter:
    """Counts failed sign-ins in a sliding window, per (address, e-mail) and per address."""

    def __init__(
        self, per_account: int = 5, per_address: int = 30, window_seconds: float = 900.0
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], moment: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= moment - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def retry_after(self, address: str, email: str) -> int:
        """Seconds until another attempt is allowed; 0 if allowed now."""
        moment = time.monotonic()
        with self._lock:
            waits = []
            for key, limit in (
                ((address, email.casefold()), self.per_account),
                ((address, ""), self.per_address),
            ):
                times = self._recent(key, moment)
                if len(times) >= limit:
                    waits.append(int(times[0] + self.window - moment) + 1)
            return max(waits, default=0)

    def failed(self, address: str, email: str) -> None:
        """Count a failed attempt."""
        moment = time.monotonic()
        with self._lock:
            for key in ((address, email.casefold()), (address, "")):
                self._recent(key, moment)
                self._failures.setdefault(key, deque()).append(moment)

    def succeeded(self, address: str, email: str) -> None:
        """Forget the account's failures after a successful sign-in."""
        with self._lock:
            self._failures.pop((address, email.casefold()), None)
