"""How often one client address may start SP-initiated sign-in (``HOSTSYNC_SSO_START_LIMIT``).

Each start (``GET /saml/{tenant}/login``) is unauthenticated and stores an AuthnRequest ID
for 30 minutes, so starts are counted per client address (IPv6: per /64, as sign-in failures
are) in the application's rate-limit store: memory, or the Redis of ``HOSTSYNC_REDIS_URL``
shared by every worker. A start over the limit is refused before any query. If the store
fails, starts are let through (and the failure logged), as every hostsync limiter does; the
per-tenant cap on outstanding requests still bounds the table.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from hostsync.config import Settings
from hostsync.web.admin.security import address_bucket
from hostsync.web.ratelimit import parse_limits

log = logging.getLogger("hostsync.web.sso")
NAMESPACE = "hostsync-sso-start"


class StartLimiter:
    """Counts SP-initiated sign-in starts per client address against ``sso_start_limit``."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.items: list[RateLimitItem] = parse_limits(settings.sso_start_limit)
        self.strategy = MovingWindowRateLimiter(storage if storage is not None else MemoryStorage())
        self._last_failure_log = -math.inf

    async def retry_after(self, address: str) -> int:
        """Count one start from ``address``: 0 when allowed, else seconds until it may retry."""
        bucket = address_bucket(address)
        try:
            for item in self.items:
                if not await self.strategy.hit(item, NAMESPACE, bucket):
                    stats = await self.strategy.get_window_stats(item, NAMESPACE, bucket)
                    wait = math.ceil(stats.reset_time - time.time())
                    return max(1, min(wait, item.get_expiry()))
        except Exception as exc:  # the counter store is down: do not refuse
            moment = time.monotonic()
            if moment - self._last_failure_log > 60:
                self._last_failure_log = moment
                log.warning("sign-in start limiter store unavailable, not limiting: %s", exc)
        return 0
