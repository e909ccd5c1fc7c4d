"""The SCIM client: typed calls over httpx, one choke point for every request.

:meth:`ScimClient._send` is the only place a request leaves the engine. It

* refuses writes in a dry run (:class:`~hostsync.engine.errors.DryRunRejected`; authentik),
* bounds concurrency (a semaphore) and the request rate (one slot every ``1/rate`` seconds),
* waits out a ``Retry-After`` pause shared by every request
  (docs/reference/entra-engine.md#retry-after),
* maps statuses to :mod:`hostsync.engine.errors` (authentik ``_request``), and wraps httpx's
  transport errors and timeouts as :class:`~hostsync.engine.errors.TransientError`; every such
  message names the full URL and the likely cause (refused: is the server running; TLS: the
  certificate; 401: the Secret Token is wrong or revoked; a timeout: overload or a firewall),
* retries transient failures of idempotent requests (GET, PATCH, DELETE) with exponential
  backoff. POST is never retried here: the runner looks the object up before it retries a
  create that may have landed.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from hostsync.engine.errors import (
    ConflictError,
    DryRunRejected,
    NotFoundError,
    RejectedError,
    StopSync,
    SyncError,
    TransientError,
)
from hostsync.engine.ports import Kind
from hostsync.engine.wire import filter_literal, patch_body

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
SAFE_METHODS = frozenset({"GET", "HEAD"})
MEDIA_TYPE = "application/scim+json"
POOL_CONNECTIONS = 4
"""Connections per httpx pool; ``concurrency`` above it is spread over several pools."""
MAX_THROTTLED_RETRIES = 20
"""How many 429 answers one request waits out before it fails (then it is escrowed)."""


def _endpoint(kind: Kind) -> str:
    return "Users" if kind is Kind.USER else "Groups"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    moment = now or datetime.now(UTC)
    return max((when - moment).total_seconds(), 0.0)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, Mapping):
        detail = body.get("detail") or body.get("scimType") or ""
        return str(detail)
    return ""


def classify(response: httpx.Response) -> SyncError | None:
    """The error a response means, or None for success (the one status → error table)."""
    status = response.status_code
    if status < 400:
        return None
    detail = _detail(response)
    reason = f"HTTP {status} from {response.request.method} {response.request.url.path}"
    reason = f"{reason}: {detail}" if detail else reason
    if status in {401, 403}:
        code = "Unauthorized" if status == 401 else "InsufficientRights"
        cause = (
            "the Secret Token is wrong or revoked"
            if status == 401
            else "the Secret Token may not do this (another tenant's key, or too few rights)"
        )
        request = response.request
        said = f" ({detail})" if detail else ""
        message = f"HTTP {status} from {request.method} {request.url}{said}: {cause}"
        return StopSync(message, status=status, code=code)
    if status == 404:
        return NotFoundError(reason, status=status)
    if status == 409:
        return ConflictError(reason, status=status)
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        return TransientError(reason, status=status, code="TooManyRequests", retry_after=wait)
    if status >= 500 and status != 501:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        return TransientError(reason, status=status, retry_after=wait)
    codes = {405: "MethodNotAllowed", 422: "UnprocessableEntity", 501: "NotImplemented"}
    return RejectedError(reason, status=status, code=codes.get(status, "BadRequest"))


def connection_cause(error: httpx.TransportError) -> str:
    """The likely cause of a request that got no HTTP answer, in words an admin can act on."""
    causes: list[BaseException] = [error]
    while (inner := causes[-1].__cause__ or causes[-1].__context__) and len(causes) < 8:
        causes.append(inner)
    text = " ".join(str(cause) for cause in causes).lower()
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes) or "certificate" in text:
        return (
            "the server's TLS certificate is not trusted (self-signed, expired, or issued for "
            "another name): fix the certificate, or trust its CA with SSL_CERT_FILE"
        )
    if any(isinstance(c, ssl.SSLError) for c in causes) or "ssl" in text or "tls" in text:
        return "the TLS handshake failed: does the Tenant URL say https:// for an http:// port?"
    if "refused" in text:
        return "the connection was refused: is the server running, and is the port right?"
    if any(word in text for word in ("name or service", "nodename", "getaddrinfo", "resolution")):
        return "the host name does not resolve: check the Tenant URL's host"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server closed the connection without an answer: is it http:// to https://?"
    return "no answer: is the server reachable from this machine (proxy, firewall, VPN)?"


class RateLimiter:
    """Spaces requests at least ``1/rate`` seconds apart (0 = unlimited)."""

    def __init__(self, rate: float, clock: Clock, sleep: Sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_slot = 0.0
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for the next slot."""
        if not self.interval:
            return
        async with self.lock:
            now = self.clock()
            if self.next_slot > now:
                await self.sleep(self.next_slot - now)
                now = self.clock()
            self.next_slot = max(now, self.next_slot) + self.interval


class ScimClient:
    """Typed SCIM calls against one Tenant URL."""

    def __init__(
        self,
        tenant_url: str,
        token: str,
        *,
        dry_run: bool = False,
        timeout: float = 30.0,
        rate: float = 25.0,
        concurrency: int = 8,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        base = tenant_url.split("?", 1)[0].rstrip("/")
        self.base_url = base
        self.timeout = timeout
        self.dry_run = dry_run
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.clock = clock
        self.limiter = RateLimiter(rate, clock, sleep)
        self.paused_until = 0.0
        self.requests = 0
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": MEDIA_TYPE,
            "User-Agent": "hostsync-engine",
        }
        # httpcore's pool scans every connection, idle ones twice over, each time a request
        # starts or ends: at 16 connections that scan cost more than the request itself
        # (py-spy, docs/engine.md). Pools of at most POOL_CONNECTIONS keep it small; a
        # request takes a free lane, so no pool ever has more requests than connections.
        pools = 1 if transport is not None else -(-concurrency // POOL_CONNECTIONS)
        size = -(-concurrency // pools)
        # One TLS context for every pool: each costs ~50 ms to build (it loads the CA bundle).
        verify = httpx.create_ssl_context() if transport is None else True
        self.pools = [
            httpx.AsyncClient(
                base_url=base + "/",
                transport=transport,
                verify=verify,
                timeout=timeout,
                headers=headers,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            for _ in range(pools)
        ]
        self.lanes: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        for lane in range(concurrency):
            self.lanes.put_nowait(self.pools[lane % pools])

    async def __aenter__(self) -> ScimClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        for pool in self.pools:
            await pool.aclose()

    @property
    def users_url(self) -> str:
        """``<Tenant URL>/Users`` (for manager ``$ref``)."""
        return f"{self.base_url}/Users"

    def delay(self, attempt: int, error: TransientError) -> float:
        """How long to wait before retry ``attempt`` (1-based)."""
        if error.retry_after is not None:
            return min(error.retry_after, self.max_backoff * 10)
        return float(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))

    async def _pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (a 429's ``Retry-After``)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def _once(
        self, method: str, path: str, params: Mapping[str, str] | None, body: Any
    ) -> httpx.Response:
        if self.dry_run and method not in SAFE_METHODS:
            raise DryRunRejected(f"dry run: refused {method} {path}", code="DryRunRejected")
        http = await self.lanes.get()  # bounds concurrency
        try:
            while (wait := self.paused_until - self.clock()) > 0:
                await self.sleep(wait)
            await self.limiter.acquire()
            headers = {"Content-Type": MEDIA_TYPE} if body is not None else None
            content = orjson.dumps(body) if body is not None else None
            self.requests += 1
            try:
                response = await http.request(
                    method, path, params=params, content=content, headers=headers
                )
            except httpx.TimeoutException as exc:
                raise TransientError(
                    f"{method} {self.base_url}/{path}: no answer within {self.timeout:g} s "
                    f"({type(exc).__name__}): is the server overloaded, or a firewall dropping "
                    "the connection? (target.timeout_seconds sets the wait)",
                    code="Timeout",
                ) from None
            except httpx.TransportError as exc:
                raise TransientError(
                    f"{method} {self.base_url}/{path}: {connection_cause(exc)} "
                    f"({type(exc).__name__}: {exc})",
                    code="WebExceptionProtocolError",
                ) from None
        finally:
            self.lanes.put_nowait(http)
        error = classify(response)
        if error is not None:
            if isinstance(error, TransientError) and error.code == "TooManyRequests":
                await self._pause(error.retry_after if error.retry_after is not None else 1.0)
            raise error
        return response

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        retry: bool = True,
    ) -> httpx.Response:
        attempt = throttled = 0
        while True:
            try:
                return await self._once(method, path, params, body)
            except TransientError as error:
                if not retry:
                    raise
                if error.code == "TooManyRequests":
                    # The pause is already shared; 429s get a budget of their own.
                    throttled += 1
                    if throttled > MAX_THROTTLED_RETRIES:
                        raise
                    continue
                attempt += 1
                if attempt > self.max_retries:
                    raise
                await self.sleep(self.delay(attempt, error))

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise RejectedError(
                f"HTTP {response.status_code}: the response is not a SCIM JSON object",
                status=response.status_code,
                code="SystemForCrossDomainIdentityManagementServiceIncompatible",
            )
        return body

    async def find(self, kind: Kind, path: str, value: str) -> list[dict[str, Any]]:
        """``GET /Users?filter=<path> eq "<value>"``; groups exclude members.

        See docs/reference/entra-wire.md#wire-group-exclude-members.
        """
        params: dict[str, str] = {}
        if kind is Kind.GROUP:
            params["excludedAttributes"] = "members"
        params["filter"] = f"{path} eq {filter_literal(value)}"
        response = await self._send("GET", _endpoint(kind), params=params)
        body = self._json(response)
        resources = body.get("Resources", [])
        if not isinstance(resources, list):
            raise RejectedError(
                "the ListResponse has no Resources list",
                code="SystemForCrossDomainIdentityManagementServiceIncompatible",
            )
        return [item for item in resources if isinstance(item, dict)]

    async def list_page(
        self, kind: Kind, *, attributes: Sequence[str], start_index: int, count: int
    ) -> tuple[list[dict[str, Any]], int]:
        """``GET /Users?attributes=…&startIndex=…&count=…``: one page and ``totalResults``."""
        params = {"startIndex": str(start_index), "count": str(count)}
        if attributes:
            params["attributes"] = ",".join(attributes)
        elif kind is Kind.GROUP:
            params["excludedAttributes"] = "members"
        response = await self._send("GET", _endpoint(kind), params=params)
        body = self._json(response)
        resources = body.get("Resources", [])
        total = body.get("totalResults")
        if not isinstance(resources, list) or not isinstance(total, int):
            raise RejectedError(
                "the ListResponse has no Resources list or no totalResults",
                code="SystemForCrossDomainIdentityManagementServiceIncompatible",
            )
        return [item for item in resources if isinstance(item, dict)], total

    async def get(self, kind: Kind, target_id: str) -> dict[str, Any]:
        """``GET /Users/{id}`` (groups without members)."""
        params = {"excludedAttributes": "members"} if kind is Kind.GROUP else None
        response = await self._send("GET", f"{_endpoint(kind)}/{target_id}", params=params)
        return self._json(response)

    async def create(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /Users``: never retried here (see the runner)."""
        response = await self._send("POST", _endpoint(kind), body=dict(body), retry=False)
        created = self._json(response)
        if not created.get("id"):
            raise RejectedError(
                "the created resource has no id",
                code="SystemForCrossDomainIdentityManagementServiceIncompatible",
            )
        return created

    async def patch(self, kind: Kind, target_id: str, operations: Sequence[Any]) -> None:
        """``PATCH /Users/{id}`` with a PatchOp."""
        await self._send("PATCH", f"{_endpoint(kind)}/{target_id}", body=patch_body(operations))

    async def delete(self, kind: Kind, target_id: str) -> None:
        """``DELETE /Users/{id}``; a retried DELETE that finds it gone has succeeded."""
        try:
            await self._send("DELETE", f"{_endpoint(kind)}/{target_id}")
        except NotFoundError:
            return

    async def test_connection(self) -> list[str]:
        """Entra's *Test Connection* (docs/reference/entra-wire.md#wire-test-connection).

        Returns the steps that passed; raises the first failure.
        """
        steps = []
        for kind, path in ((Kind.USER, "userName"), (Kind.GROUP, "displayName")):
            probe = str(uuid.uuid4())
            found = await self.find(kind, path, probe)
            if found:
                raise RejectedError(
                    f"{_endpoint(kind)} filter {path} eq a random GUID returned {len(found)} "
                    "resources; expected an empty ListResponse",
                    code="SystemForCrossDomainIdentityManagementServiceIncompatibleFiltering",
                )
            steps.append(f'GET /{_endpoint(kind)}?filter={path} eq "{probe}": empty list')
        return steps
