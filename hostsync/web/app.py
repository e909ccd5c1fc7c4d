"""create_app: the ASGI application — routes, error handlers and the request path.

Every error under the SCIM prefix (and on /healthz, /openapi.json) leaves as a SCIM Error
body: ScimErrors as themselves, unknown routes as 404, wrong methods as 405, and anything
unexpected as a generic 500 whose cause is logged here and never sent (the detail could hold
internals). Unknown URLs and wrong methods elsewhere are the console's: they answer its HTML
error page. Request counts reach the database on a timer too (every
``request_count_flush_seconds``), so the console's tiles agree with its failures table even
after a burst of requests ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.scim.discovery import Capabilities
from hostsync.scim.errors import (
    InternalError,
    MethodNotAllowedError,
    NotFoundError,
    ScimError,
)
from hostsync.scim.service import ScimService
from hostsync.store.activity.counting import RequestCounter
from hostsync.store.database import Database
from hostsync.web.admin import admin_routes
from hostsync.web.admin.routes import error_page
from hostsync.web.admin.security import SignInLimiter
from hostsync.web.auth import ApiKeyAuthenticator
from hostsync.web.kiosk.pairing import api_error
from hostsync.web.kiosk.routes import kiosk_routes
from hostsync.web.lifecycle import VisitChores
from hostsync.web.middleware import EdgeMiddleware
from hostsync.web.openapi import openapi_document
from hostsync.web.outbox import OutboxService
from hostsync.web.outcomes import Outcomes
from hostsync.web.ratelimit import AuthFailureLimiter, RateLimitMiddleware, TenantRateLimiter
from hostsync.web.rendering import ScimJsonResponse, error_response
from hostsync.web.scheduling import scheduler_for
from hostsync.web.scim_routes import ScimEndpoints, scim_routes
from hostsync.web.sso import saml_routes

log = logging.getLogger("hostsync.web")


def capabilities_from(settings: Settings) -> Capabilities:
    """The limits advertised in /ServiceProviderConfig, from the settings that enforce them."""
    return Capabilities(
        max_results=settings.max_results,
        bulk_max_operations=settings.bulk_max_operations,
        bulk_max_payload_size=settings.max_body_bytes,
        max_operations=settings.max_patch_operations,
        inline_members_max=settings.inline_members_max,
    )


async def _scim_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ScimError)  # noqa: S101 - registered for ScimError only
    return error_response(exc)


MACHINE_PATHS = ("/healthz", "/openapi.json")
KIOSK_API = "/v1/kiosk"


def _is_kiosk_path(path: str) -> bool:
    folded = path.lower()
    return folded == KIOSK_API or folded.startswith(KIOSK_API + "/")


def _is_machine_path(path: str) -> bool:
    """SCIM, kiosk API and probe paths answer JSON errors; every other path is the console's."""
    folded = path.lower()
    prefix = SCIM_PREFIX.lower()
    if _is_kiosk_path(path):
        return True
    return folded == prefix or folded.startswith(prefix + "/") or folded in MACHINE_PATHS


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    if exc.status_code in (404, 405) and not _is_machine_path(request.url.path):
        if exc.status_code == 404:
            return error_page(request, 404, "Page not found", "There is no page at this address.")
        page = error_page(
            request,
            405,
            "Page not available this way",
            "This address only answers a form's submission. Open the page from the menu.",
        )
        if exc.headers:
            page.headers.update(exc.headers)
        return page
    if _is_kiosk_path(request.url.path):  # the kiosk API's own error body
        answer = api_error(
            exc.status_code,
            {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "refused"),
            f"{request.method} {request.url.path[:200]} is not served"
            if exc.status_code in (404, 405)
            else str(exc.detail),
        )
        if exc.headers:
            answer.headers.update(exc.headers)
        return answer
    if exc.status_code == 404:
        return error_response(NotFoundError(f"No endpoint at {request.url.path}"))
    if exc.status_code == 405:
        response = error_response(
            MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}")
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    return ScimJsonResponse(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": str(exc.status_code),
            "detail": exc.detail,
        },
        status_code=exc.status_code,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(InternalError("An internal error occurred; it has been logged"))


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client closed the connection mid-request (logged once, by cli/connections.py)."""
    return Response(status_code=499)  # never sent: nginx's "client closed request"


async def _health(request: Request) -> Response:
    database: Database = request.app.state.database
    try:
        await run_in_threadpool(_ping, database)
    except ScimError:
        return ScimJsonResponse({"status": "unhealthy", "database": "unreachable"}, 503)
    return ScimJsonResponse({"status": "ok", "database": "ok"})


async def _openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document())


def _ping(database: Database) -> None:
    with database.connect(write=False) as connection:
        connection.exec_driver_sql("SELECT 1")


class HostsyncApp(Starlette):
    """Starlette with :class:`EdgeMiddleware` outside its whole stack.

    Outside Starlette's own error middleware too, so the 500 it renders is checked and gets
    the security headers like any other answer; it also collapses ``//`` in paths, so every
    layer inside (the rate limiter first) sees the collapsed path.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack, wrapped in the edge middleware."""
        return EdgeMiddleware(super().build_middleware_stack(), self.state.settings)


async def _flush_counts_periodically(app: Starlette, seconds: float) -> None:
    """Write the pending request counts every ``seconds`` until cancelled at shutdown."""
    database: Database = app.state.database
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(app.state.request_counter.flush, database)
        except Exception:  # a busy or unreachable database: the next tick tries again
            log.warning("request counts not flushed; retrying", exc_info=True)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    database: Database = app.state.database
    database.start_checkpointer()  # SQLite: WAL checkpoints off the request path
    settings: Settings = app.state.settings
    flusher = asyncio.create_task(
        _flush_counts_periodically(app, max(settings.request_count_flush_seconds, 0.05))
    )
    chores = asyncio.create_task(VisitChores(database, settings.frontdesk_chores_seconds).run())
    outbox: OutboxService = app.state.outbox
    await run_in_threadpool(outbox.ensure_started)  # notifications, in a thread of their own
    try:
        yield
    finally:
        flusher.cancel()
        chores.cancel()
        with suppress(asyncio.CancelledError):
            await flusher
        with suppress(asyncio.CancelledError):
            await chores
        await run_in_threadpool(outbox.stop)  # the pass under way ends first
        await app.state.rate_limiter.aclose()  # the sign-in limiter's store too
        app.state.scheduler.close()
        app.state.authenticator.close()  # before dispose: its SQLite connection too
        app.state.kiosk_gate.close()
        await run_in_threadpool(app.state.request_counter.flush, database)
        database.stop_checkpointer()
        database.dispose()  # the last connection to close checkpoints and removes the WAL


def create_app(
    settings: Settings,
    database: Database,
    *,
    rate_limiter: TenantRateLimiter | None = None,
    sign_in_limiter: SignInLimiter | None = None,
) -> Starlette:
    """Build the application; nothing is created at import time.

    ``rate_limiter`` lets several apps share counters (tests); by default each app has its
    own, built from ``settings``. ``sign_in_limiter`` likewise for the console's sign-in.
    """
    service = ScimService(capabilities_from(settings))
    limiter = rate_limiter if rate_limiter is not None else TenantRateLimiter(settings)
    failures = AuthFailureLimiter(settings, limiter.storage)
    authenticator = ApiKeyAuthenticator(database, settings.key_cache_seconds, failures=failures)
    if sign_in_limiter is None:  # counts in the same store, closed with it
        sign_in_limiter = SignInLimiter.from_settings(settings, limiter.storage)
    scheduler = scheduler_for(database, settings)  # SQLite: inline turns; else threads
    request_counter = RequestCounter(settings.request_count_flush_seconds)
    endpoints = ScimEndpoints(
        service,
        database,
        authenticator,
        settings,
        scheduler=scheduler,
        outcomes=Outcomes(database, scheduler, request_counter),
    )
    kiosk, kiosk_gate = kiosk_routes(
        database, settings, scheduler=scheduler, storage=limiter.storage
    )
    routes: list[Any] = [
        *scim_routes(endpoints),  # first: Starlette tries routes in order
        *kiosk,
        Route("/healthz", _health, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        *saml_routes(database, settings, limiter.storage),
        *admin_routes(
            database,
            settings,
            retention_days=settings.activity_retention_days,
            limiter=sign_in_limiter,
        ),
    ]
    app = HostsyncApp(
        routes=routes,
        lifespan=_lifespan,
        exception_handlers={
            ScimError: _scim_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
    )
    app.state.database = database
    app.state.settings = settings
    app.state.authenticator = authenticator
    app.state.kiosk_gate = kiosk_gate
    app.state.scheduler = scheduler
    app.state.request_counter = request_counter
    app.state.rate_limiter = limiter
    app.state.outbox = OutboxService(settings, database)
    app.add_middleware(RateLimitMiddleware, limiter=limiter)  # sees paths the edge collapsed
    return app
