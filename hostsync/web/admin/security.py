"""Console security: session cookies, CSRF tokens, request bodies, the sign-in rate limit.

* The session cookie holds a random token (only its digest is stored), is ``HttpOnly``,
  ``SameSite=Lax``, and ``Secure`` with the ``__Host-`` prefix (no ``Domain``, path ``/``)
  whenever the console is reached over HTTPS (the request's scheme, or ``HOSTSYNC_PUBLIC_URL``
  starting with ``https://``).
* Every form carries a CSRF token: the session's own once signed in; before sign-in, a random
  token that must also be in a short-lived ``SameSite=Strict`` cookie (double submit).
  A POST whose ``Origin`` header names another host is refused as well.
* A console request body is read incrementally and refused (413) past
  ``HOSTSYNC_CONSOLE_MAX_BODY_BYTES``; only URL-encoded forms are accepted, with few fields,
  each capped in length (:data:`FIELD_LIMITS`) before anything uses it.
* Failed sign-ins are counted with the ``limits`` library (in memory, or in the Redis of
  ``HOSTSYNC_REDIS_URL`` shared by every worker): per client address and account, per address,
  and per account from any address. Counters expire with their window, so memory is bounded by
  how many failures the server can verify in a window; IPv6 clients count per /64.
* At most ``HOSTSYNC_SIGNIN_MAX_VERIFICATIONS`` password verifications (argon2: slow and
  memory-hungry on purpose) run at once; a few more may wait, and beyond that sign-in answers
  503 at once instead of queueing without bound.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

import anyio
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from hostsync.config import Settings

log = logging.getLogger("hostsync.web.admin")
T = TypeVar("T")

SESSION_COOKIE = "hostsync_session"
SIGNIN_CSRF_COOKIE = "hostsync_signin_csrf"
HOST_PREFIX = "__Host-"
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
MAX_FORM_FIELDS = 16
DEFAULT_FIELD_LIMIT = 1024
FIELD_LIMITS = {
    "email": 320,
    "password": 1024,
    "csrf": 128,
    "next": 2048,
    "label": 200,
    "confirm": 1024,
}
"""Most characters each console form field may carry; others get :data:`DEFAULT_FIELD_LIMIT`."""


def is_https(request: Request, public_url: str | None) -> bool:
    """Whether the console is served over HTTPS (so cookies get ``Secure`` and ``__Host-``)."""
    if public_url and public_url.lower().startswith("https://"):
        return True
    return request.url.scheme == "https"


def cookie_name(request: Request, public_url: str | None, name: str) -> str:
    """The cookie's name as sent: ``__Host-`` + name over HTTPS, else the bare name."""
    return HOST_PREFIX + name if is_https(request, public_url) else name


def read_cookie(request: Request, public_url: str | None, name: str) -> str:
    """The value of a console cookie under the name it is set with for this request."""
    return request.cookies.get(cookie_name(request, public_url, name), "")


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
    """Set an HttpOnly cookie; over HTTPS it is Secure and named with the ``__Host-`` prefix."""
    response.set_cookie(
        cookie_name(request, public_url, name),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=is_https(request, public_url),
        samesite=same_site,  # type: ignore[arg-type]
    )


def delete_cookie(response: Response, request: Request, public_url: str | None, name: str) -> None:
    """Expire a console cookie set by :func:`set_cookie`."""
    secure = is_https(request, public_url)
    response.delete_cookie(
        cookie_name(request, public_url, name), path="/", secure=secure, httponly=True
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
    """The peer's address (``hostsync serve --proxy-headers`` makes it the forwarded one)."""
    return request.client.host if request.client else "unknown"


def address_bucket(address: str) -> str:
    """The address sign-in failures are counted under: IPv6 by /64 (one host's share)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


# -- request bodies ----------------------------------------------------------------------
class FormRefused(Exception):
    """A console form that is refused before any of its fields is used."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_form(request: Request, max_bytes: int) -> FormData:
    """The request's URL-encoded form, read incrementally and capped.

    Raises :class:`FormRefused` (413) as soon as the body passes ``max_bytes`` (nothing more
    is buffered), (415) for another content type, (400) for too many fields or a field over
    its :data:`FIELD_LIMITS` length.
    """
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isascii() or not declared.isdigit()):
        raise FormRefused(400, "The request's length is not a number.")
    if declared and int(declared) > max_bytes:
        raise FormRefused(413, "The form is too large.")
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormRefused(413, "The form is too large.")
    if not body:
        return FormData()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused(415, "The form must be sent URL-encoded, as a browser does.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise FormRefused(400, "The form could not be read.") from None
    for name, value in pairs:
        if len(value) > FIELD_LIMITS.get(name, DEFAULT_FIELD_LIMIT):
            raise FormRefused(400, f"The field “{name[:40]}” is too long.")
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)


# -- sign-in throttling ------------------------------------------------------------------
def _item(value: int | str, window_seconds: float) -> RateLimitItem:
    if isinstance(value, str):
        return parse(value)
    return RateLimitItemPerSecond(value, max(1, round(window_seconds)))


def _hashed(text: str) -> str:
    """Account names are counted under a digest: fixed size, no personal data in Redis."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class _Limit:
    item: RateLimitItem
    identifiers: Callable[[str, str], tuple[str, ...]]


class SignInLimiter:
    """Counts failed sign-ins per (address, account), per address and per account.

    ``per_account``/``per_address``/``per_account_anywhere`` are counts within
    ``window_seconds`` or strings in the ``limits`` notation (``"5/15 minutes"``); ``None``
    switches that limit off. Counting happens in ``storage`` (default: in memory, expiring).
    If the storage fails, sign-in is not throttled (and the failure logged): the verification
    cap still bounds the cost.
    """

    def __init__(
        self,
        per_account: int | str | None = 5,
        per_address: int | str | None = 30,
        window_seconds: float = 900.0,
        *,
        per_account_anywhere: int | str | None = 100,
        storage: Storage | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.storage = storage if storage is not None else MemoryStorage()
        self._close = close
        self.strategy = MovingWindowRateLimiter(self.storage)
        limits: list[_Limit] = []
        if per_account is not None:
            limits.append(
                _Limit(_item(per_account, window_seconds), lambda a, e: ("pair", a, _hashed(e)))
            )
        if per_address is not None:
            limits.append(_Limit(_item(per_address, window_seconds), lambda a, e: ("addr", a)))
        if per_account_anywhere is not None:
            limits.append(
                _Limit(
                    _item(per_account_anywhere, window_seconds),
                    lambda a, e: ("acct", _hashed(e)),
                )
            )
        self.limits = limits
        self._last_failure_log = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings, storage: Storage | None = None) -> SignInLimiter:
        """The limiter the settings describe (Redis-backed with ``HOSTSYNC_REDIS_URL``).

        Given ``storage`` (the application's rate-limit counters), it counts there and leaves
        closing that storage to its owner; otherwise it opens a store of its own.
        """
        from hostsync.web.ratelimit import make_storage

        close: Callable[[], Awaitable[None]] | None = None
        if storage is None:
            storage, close = make_storage(settings)
        return cls(
            _limit_or_none(settings.signin_limit_per_address_account),
            _limit_or_none(settings.signin_limit_per_address),
            per_account_anywhere=_limit_or_none(settings.signin_limit_per_account),
            storage=storage,
            close=close,
        )

    def _store_failed(self, exc: Exception) -> None:
        moment = time.monotonic()
        if moment - self._last_failure_log > 60:
            self._last_failure_log = moment
            log.warning("sign-in limiter store unavailable, not limiting: %s", exc)

    async def retry_after(self, address: str, email: str) -> int:
        """Seconds until another attempt is allowed; 0 if allowed now."""
        bucket, account = address_bucket(address), email.strip().casefold()
        waits = []
        try:
            for limit in self.limits:
                identifiers = limit.identifiers(bucket, account)
                if not await self.strategy.test(limit.item, "hostsync-signin", *identifiers):
                    stats = await self.strategy.get_window_stats(
                        limit.item, "hostsync-signin", *identifiers
                    )
                    wait = math.ceil(stats.reset_time - time.time())
                    waits.append(max(1, min(wait, limit.item.get_expiry())))
        except Exception as exc:
            self._store_failed(exc)
            return 0
        return max(waits, default=0)

    async def failed(self, address: str, email: str) -> None:
        """Count a failed attempt against every limit."""
        bucket, account = address_bucket(address), email.strip().casefold()
        try:
            for limit in self.limits:
                await self.strategy.hit(
                    limit.item, "hostsync-signin", *limit.identifiers(bucket, account)
                )
        except Exception as exc:
            self._store_failed(exc)

    async def succeeded(self, address: str, email: str) -> None:
        """Forget this address's failures for the account after a successful sign-in."""
        bucket, account = address_bucket(address), email.strip().casefold()
        try:
            for limit in self.limits[:1]:
                await self.strategy.clear(
                    limit.item, "hostsync-signin", *limit.identifiers(bucket, account)
                )
        except Exception as exc:
            self._store_failed(exc)

    async def aclose(self) -> None:
        """Release the counter store's connections."""
        if self._close is not None:
            await self._close()


def _limit_or_none(text: str) -> str | None:
    text = text.strip()
    return None if not text or text.lower() in ("none", "off", "0") else text


class VerificationGate:
    """At most ``concurrent`` password verifications at once, and at most ``waiting`` queued."""

    def __init__(self, concurrent: int = 4, waiting: int | None = None) -> None:
        self.limiter = anyio.CapacityLimiter(concurrent)
        self.waiting = concurrent * 2 if waiting is None else waiting

    def busy(self) -> bool:
        """Whether a verification asked for now would be refused rather than queued."""
        statistics = self.limiter.statistics()
        return (
            statistics.borrowed_tokens >= statistics.total_tokens
            and statistics.tasks_waiting >= self.waiting
        )

    async def run(self, function: Callable[[], T]) -> T:
        """Run ``function`` in a worker thread, holding one of the gate's places."""
        return await anyio.to_thread.run_sync(function, limiter=self.limiter)
