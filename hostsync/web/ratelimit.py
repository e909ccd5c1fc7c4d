"""Per-tenant rate limiting: ASGI middleware over the ``limits`` library.

Requests to the SCIM API are counted per API key: the bucket is the SHA-256 digest of the
bearer token (:func:`hostsync.store.tenants.digest`, the value the key is stored under), so
counting costs no database lookup and a key that is unknown still gets a bucket of its own.
Entra provisions with one key per tenant, so a key's budget is its tenant's; a tenant that uses
several keys at once gets one budget per key. Requests without credentials are counted per
client address. ``/healthz`` and ``/openapi.json`` are not counted.

Failed authentications are counted apart, per client address (:class:`AuthFailureLimiter`,
``auth_failure_limit``): a token that is not a key gets no budget of its own beyond that.

Over a limit the answer is 429 with an integer ``Retry-After`` and a SCIM error body. Counters
live in memory (one set per server process) unless ``HOSTSYNC_REDIS_URL`` names a Redis server,
which every worker and server then shares. If that store fails, requests are let through (and
the failure logged): rate limiting must never turn a healthy server into a failing one.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.scim.errors import TooManyRequestsError
from hostsync.store.tenants import digest
from hostsync.web.rendering import error_response

log = logging.getLogger("hostsync.web.ratelimit")

_STRATEGIES: dict[str, type[RateLimiter]] = {
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
    "moving-window": MovingWindowRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
}
_STORE_FAILURE_LOG_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of counting one request: allowed, or refused for ``retry_after`` seconds."""

    allowed: bool
    retry_after: int = 0
    limit: str = ""


def parse_limits(text: str) -> list[RateLimitItem]:
    """``"200/second;6000/minute"`` → limit items; empty or ``none`` → no limits."""
    if not text.strip() or text.strip().lower() in ("none", "off", "0"):
        return []
    return parse_many(text)


def strategy(name: str, storage: Storage) -> RateLimiter:
    """The counting strategy ``name`` (``Settings.rate_limit_strategy``) over ``storage``."""
    return _STRATEGIES[name](storage)


def make_storage(settings: Settings) -> tuple[Storage, Callable[[], Awaitable[None]] | None]:
    """In-memory counters, or Redis when ``settings.redis_url`` is set; and how to close it."""
    if not settings.redis_url:
        return MemoryStorage(), None
    from redis.asyncio import ConnectionPool  # only needed with Redis

    url = settings.redis_url.removeprefix("async+")
    pool = ConnectionPool.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    options: dict[str, Any] = {"connection_pool": pool}  # passed through to redis-py
    storage = RedisStorage(
        "async+" + url, wrap_exceptions=True, implementation="redispy", **options
    )
    return storage, pool.aclose


class TenantRateLimiter:
    """Counts requests per bucket against every configured limit."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.items = parse_limits(settings.rate_limit)
        self._close: Callable[[], Awaitable[None]] | None = None
        if storage is None:
            storage, self._close = make_storage(settings)
        self.storage = storage
        self.strategy = _STRATEGIES[settings.rate_limit_strategy](self.storage)
        self._last_failure_log = -math.inf

    @property
    def enabled(self) -> bool:
        """Whether any limit is configured."""
        return bool(self.items)

    async def hit(self, bucket: str) -> Verdict:
        """Count one request in ``bucket``; refuse it if any limit is exhausted."""
        try:
            for item in self.items:
                if not await self.strategy.hit(item, "hostsync", bucket):
                    return Verdict(False, await self._retry_after(item, bucket), str(item))
        except Exception as exc:  # the counter store is down: let the request through
            moment = time.monotonic()
            if moment - self._last_failure_log > _STORE_FAILURE_LOG_INTERVAL:
                self._last_failure_log = moment
                log.warning("rate-limit store unavailable, not limiting: %s", exc)
            return Verdict(True)
        return Verdict(True)

    async def _retry_after(self, item: RateLimitItem, bucket: str) -> int:
        stats = await self.strategy.get_window_stats(item, "hostsync", bucket)
        wait = math.ceil(stats.reset_time - time.time())
        return max(1, min(wait, item.get_expiry()))

    async def aclose(self) -> None:
        """Release the counter store's connections (on shutdown)."""
        if self._close is not None:
            await self._close()

    async def reset(self) -> None:
        """Forget every counter (tests)."""
        await self.storage.reset()


class AuthFailureLimiter:
    """Failed authentications per client address (``Settings.auth_failure_limit``).

    Shares the counter store of the request limiter (memory, or the Redis of
    ``HOSTSYNC_REDIS_URL``, so every worker counts together). Fails open like it.
    """

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.items = parse_limits(settings.auth_failure_limit)
        self.strategy = _STRATEGIES[settings.rate_limit_strategy](storage)
        self._last_failure_log = -math.inf

    @property
    def enabled(self) -> bool:
        """Whether a budget is configured."""
        return bool(self.items)

    async def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may fail again; 0 while it is within its budget."""
        bucket = address_bucket(address)
        try:
            for item in self.items:
                if not await self.strategy.test(item, "auth-failures", bucket):
                    stats = await self.strategy.get_window_stats(item, "auth-failures", bucket)
                    wait = math.ceil(stats.reset_time - time.time())
                    return max(1, min(wait, item.get_expiry()))
        except Exception as exc:  # the counter store is down: do not refuse
            self._store_failed(exc)
        return 0

    async def failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        bucket = address_bucket(address)
        try:
            for item in self.items:
                await self.strategy.hit(item, "auth-failures", bucket)
        except Exception as exc:
            self._store_failed(exc)

    def _store_failed(self, exc: Exception) -> None:
        moment = time.monotonic()
        if moment - self._last_failure_log > _STORE_FAILURE_LOG_INTERVAL:
            self._last_failure_log = moment
            log.warning("rate-limit store unavailable, not limiting failures: %s", exc)


def address_bucket(address: str) -> str:
    """The bucket of a client address: itself, or its /64 for IPv6 (one site's share)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def client_address(scope: Scope) -> str:
    """The request's client address (a trusted proxy's ``X-Forwarded-For`` when configured)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def bucket_for(scope: Scope) -> str:
    """The counting bucket of a request: its bearer key's digest, else its client address."""
    authorization = ""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key:" + digest(token.strip())
    return "anon:" + client_address(scope)


class RateLimitMiddleware:
    """ASGI middleware: 429 + ``Retry-After`` for requests over their bucket's limit."""

    def __init__(self, app: ASGIApp, limiter: TenantRateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count SCIM requests; answer 429 instead of passing on those over the limit."""
        if (
            scope["type"] != "http"
            or not self.limiter.enabled
            or not scope["path"].startswith(SCIM_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        verdict = await self.limiter.hit(bucket_for(scope))
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        error = TooManyRequestsError(
            f"Too many requests: the limit is {verdict.limit}; "
            f"retry after {verdict.retry_after} seconds",
            verdict.retry_after,
        )
        await error_response(error)(scope, receive, send)
