"""``GET /v1/kiosk/hosts?q=``: the kiosk's host search, rate-limited per kiosk.

Answers ``{"hosts": [{"id", "label", "detail"}]}``: at most ten of the site's active hosts
whom the query finds, labelled as the site's privacy mode allows (store/frontdesk/search.py;
never an e-mail address or phone number). A query of fewer than two letters finds no one; one
longer than :data:`MAX_QUERY_LENGTH` characters is refused (400). The site is read with the
search, in one read unit, so a site's new group mapping or privacy mode holds from the next
search, as a host's deactivation does.

Each kiosk has its own budget of searches (``Settings.kiosk_search_limit``, counted in the
rate limiter's store: memory, or Redis shared by every process); past it the answer is 429
with ``Retry-After``, so a kiosk's credential cannot be used to read the directory out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from limits import RateLimitItem
from limits.aio.storage import Storage
from limits.aio.strategies import RateLimiter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hostsync.scim.errors import InvalidFilterError, InvalidPathError
from hostsync.store.database import Database
from hostsync.store.frontdesk.search import FoundHost, search_hosts, site_search
from hostsync.store.frontdesk.sites import KioskCredential
from hostsync.web.kiosk.pairing import api_error
from hostsync.web.ratelimit import parse_limits, strategy

log = logging.getLogger("hostsync.web.kiosk")

MAX_QUERY_LENGTH = 200
"""Characters a query may have."""
_NO_STORE = {"Cache-Control": "no-store"}

Run = Callable[[Callable[[], Any]], Any]


class KioskSearchLimiter:
    """Searches per kiosk against ``Settings.kiosk_search_limit``.

    Fails open, as :class:`~hostsync.web.ratelimit.TenantRateLimiter` does.
    """

    def __init__(self, limits: str, counting: str, storage: Storage) -> None:
        self.items: list[RateLimitItem] = parse_limits(limits)
        self.strategy: RateLimiter = strategy(counting, storage)
        self._last_failure_log = -math.inf

    async def retry_after(self, kiosk_id: str) -> int:
        """Count one search of the kiosk: 0 if allowed, else the seconds to wait."""
        try:
            for item in self.items:
                if not await self.strategy.hit(item, "kiosk-search", kiosk_id):
                    stats = await self.strategy.get_window_stats(item, "kiosk-search", kiosk_id)
                    return max(1, min(math.ceil(stats.reset_time - time.time()), item.get_expiry()))
        except Exception as exc:  # the counter store is down: do not refuse
            moment = time.monotonic()
            if moment - self._last_failure_log > 60:
                self._last_failure_log = moment
                log.warning("rate-limit store unavailable, not limiting kiosk searches: %s", exc)
        return 0


def find_hosts(
    database: Database, credential: KioskCredential, query: str
) -> list[FoundHost] | None:
    """The kiosk's site's hosts whom ``query`` finds; None when the site is archived."""
    with database.connect(write=False) as connection:
        site = site_search(connection, credential.tenant_id, credential.site_id)
        if site is None:
            return None
        return search_hosts(
            connection,
            credential.tenant_id,
            query,
            scope=site.scope,
            privacy=site.privacy,
            detail=site.detail,
        )


class HostSearch:
    """The endpoint (a :data:`~hostsync.web.kiosk.pairing.KioskHandler`)."""

    def __init__(self, database: Database, run: Run, limiter: KioskSearchLimiter) -> None:
        self.database = database
        self.run = run  # runs a unit of work: on the loop (SQLite) or in a thread
        self.limiter = limiter

    async def __call__(self, request: Request, credential: KioskCredential) -> Response:
        """``GET /v1/kiosk/hosts?q=``."""
        wait = await self.limiter.retry_after(credential.kiosk_id)
        if wait:
            return api_error(
                429,
                "rate_limited",
                f"Too many searches from this kiosk: retry after {wait} seconds",
                **{"Retry-After": str(wait)},
            )
        query = request.query_params.get("q", "")
        if len(query) > MAX_QUERY_LENGTH:
            return api_error(
                400, "query_too_long", f"A search has at most {MAX_QUERY_LENGTH} characters"
            )
        try:
            found = await self.run(lambda: find_hosts(self.database, credential, query))
        except (InvalidFilterError, InvalidPathError):  # the site's attribute path cannot be
            return api_error(  # searched (it was set before the schema changed)
                409,
                "site_misconfigured",
                "This site's host attribute cannot be searched: ask your administrator",
            )
        if found is None:
            return api_error(401, "unpaired", "This kiosk's site was archived")
        hosts = [{"id": host.id, "label": host.label, "detail": host.detail} for host in found]
        return JSONResponse({"hosts": hosts}, headers=_NO_STORE)
