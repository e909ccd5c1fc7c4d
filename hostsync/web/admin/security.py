"""Sign-in throttling: failed attempts counted per address and account, verifications capped.

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
import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from hostsync.config import Settings
from hostsync.web.ratelimit import make_storage

log = logging.getLogger("hostsync.web.admin")
T = TypeVar("T")


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
