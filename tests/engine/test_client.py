"""The SCIM client's choke point: statuses → errors, retries, 429 Retry-After, dry run."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from hostsync.engine.client import ScimClient, retry_after_seconds
from hostsync.engine.errors import (
    ConflictError,
    DryRunRejected,
    NotFoundError,
    RejectedError,
    StopSync,
    TransientError,
)
from hostsync.engine.ports import Kind
from tests.engine.conftest import VirtualClock

URL = "https://scim.example.com/v1/usersync/SCIM"
EMPTY = {"schemas": [], "totalResults": 0, "Resources": []}


def _client(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: VirtualClock,
    **kwargs: object,
) -> ScimClient:
    return ScimClient(
        URL,
        "secret",
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        rate=0,
        **kwargs,  # type: ignore[arg-type]
    )


def _sequence(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


async def test_429_waits_for_retry_after_then_succeeds() -> None:
    """A 429 with Retry-After: 7 pauses 7 seconds, then the GET is sent again."""
    clock = VirtualClock()
    handler = _sequence(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=EMPTY)
    )
    async with _client(handler, clock) as client:
        assert await client.find(Kind.USER, "userName", "ana") == []
    assert clock.sleeps == [7.0]


async def test_5xx_is_retried_with_exponential_backoff() -> None:
    """Two 503s without Retry-After wait 0.5 s then 1 s before the third attempt."""
    clock = VirtualClock()
    handler = _sequence(
        httpx.Response(503), httpx.Response(500), httpx.Response(200, json={"id": "1"})
    )
    async with _client(handler, clock) as client:
        assert (await client.get(Kind.USER, "1"))["id"] == "1"
    assert clock.sleeps == [0.5, 1.0]


async def test_retries_stop_after_max_retries() -> None:
    """A server that keeps failing raises TransientError after max_retries retries."""
    clock = VirtualClock()
    handler = _sequence(*[httpx.Response(502) for _ in range(3)])
    async with _client(handler, clock, max_retries=2) as client:
        with pytest.raises(TransientError) as caught:
            await client.get(Kind.USER, "1")
    assert caught.value.status == 502
    assert len(handler.seen) == 3  # type: ignore[attr-defined]


async def test_timeout_and_connection_errors_are_transient() -> None:
    """httpx timeouts and refused connections are wrapped, retried, and then succeed."""
    clock = VirtualClock()
    handler = _sequence(
        httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.Response(204)
    )
    async with _client(handler, clock) as client:
        await client.patch(Kind.USER, "1", [{"op": "replace", "path": "active", "value": False}])
    assert len(clock.sleeps) == 2


async def test_post_is_never_retried_by_the_client() -> None:
    """A create that times out raises at once: the runner must look before it retries."""
    clock = VirtualClock()
    handler = _sequence(httpx.ReadTimeout("slow"))
    async with _client(handler, clock) as client:
        with pytest.raises(TransientError) as caught:
            await client.create(Kind.USER, {"userName": "ana"})
    assert caught.value.code == "Timeout"


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (401, StopSync, "Unauthorized"),
        (403, StopSync, "InsufficientRights"),
        (404, NotFoundError, "InvalidAnchor"),
        (409, ConflictError, "EntryConflict"),
        (400, RejectedError, "BadRequest"),
        (422, RejectedError, "UnprocessableEntity"),
        (501, RejectedError, "NotImplemented"),
    ],
)
async def test_status_maps_to_the_error_the_loop_acts_on(
    status: int, error: type[Exception], code: str
) -> None:
    """Each non-retryable status becomes its engine error, with the SCIM detail in the reason."""
    clock = VirtualClock()
    body = {"schemas": [], "status": str(status), "detail": "told you so"}
    handler = _sequence(httpx.Response(status, json=body))
    async with _client(handler, clock) as client:
        with pytest.raises(error) as caught:
            await client.get(Kind.USER, "1")
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert "told you so" in str(caught.value)


async def test_dry_run_refuses_writes_before_sending() -> None:
    """In a dry run POST, PATCH and DELETE raise DryRunRejected and reach no server."""
    clock = VirtualClock()
    handler = _sequence()
    async with _client(handler, clock, dry_run=True) as client:
        with pytest.raises(DryRunRejected):
            await client.create(Kind.USER, {"userName": "ana"})
        with pytest.raises(DryRunRejected):
            await client.delete(Kind.USER, "1")
    assert handler.seen == []  # type: ignore[attr-defined]


async def test_find_sends_entras_query_with_escaped_value() -> None:
    """Groups are queried with excludedAttributes=members first and quotes escaped."""
    clock = VirtualClock()
    handler = _sequence(httpx.Response(200, json=EMPTY))
    async with _client(handler, clock) as client:
        await client.find(Kind.GROUP, "displayName", 'R&D "core"')
    [request] = handler.seen  # type: ignore[attr-defined]
    assert request.url.path == "/v1/usersync/SCIM/Groups"
    assert list(request.url.params.items()) == [
        ("excludedAttributes", "members"),
        ("filter", 'displayName eq "R&D \\"core\\""'),
    ]
    assert request.headers["Authorization"] == "Bearer secret"


async def test_rate_limit_spaces_requests() -> None:
    """At 2 requests per second, three requests take one virtual second."""
    clock = VirtualClock()
    handler = _sequence(*[httpx.Response(200, json={"id": "1"}) for _ in range(3)])
    client = ScimClient(
        URL,
        "secret",
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        rate=2,
    )
    start = clock.now
    async with client:
        for _ in range(3):
            await client.get(Kind.USER, "1")
    assert clock.now - start == pytest.approx(1.0)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    from datetime import UTC, datetime

    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 01 Jan 2025 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon") is None
