"""The admin console: server-rendered pages for a tenant's administrators.

``admin_routes(database, settings)`` returns the routes to add to the application (see
docs/admin-console.md). Every page but sign-in needs a session; every query is scoped by the
session's tenant, so an administrator sees only their own tenant. Forms are read with a size
cap before anything else (:func:`hostsync.web.admin.security.read_form`); number parameters
are parsed strictly and clamped; keys, sign-ins, sign-outs and prunes leave activity rows.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store import activity as activity_log
from hostsync.store import admins as admin_store
from hostsync.store import console as queries
from hostsync.store import tenants as tenant_store
from hostsync.store.activity import ActivityFilter, Pruner, RequestContext
from hostsync.store.database import Database
from hostsync.store.directory import now
from hostsync.web.admin.security import (
    SECURITY_HEADERS,
    SESSION_COOKIE,
    SIGNIN_CSRF_COOKIE,
    FormRefused,
    SignInLimiter,
    VerificationGate,
    client_address,
    delete_cookie,
    new_token,
    read_cookie,
    read_form,
    same_origin,
    set_cookie,
    tokens_match,
)

HERE = Path(__file__).parent
PERIODS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
ACTIVITY_PAGE = 50
MAX_PAGE = 100_000
MAX_PRUNE_DAYS = 36_500
QUARANTINE_RATIO = 0.4
FLASH_SECONDS = 300.0
ENTRA_PAGE = "/integrations/host-synchronization/entra"
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def parse_number(raw: object, default: int, low: int, high: int) -> int:
    """A decimal number of ASCII digits clamped to ``[low, high]``; ``default`` if it is not one.

    ``str.isdigit`` accepts ``²`` and other digits ``int`` refuses, and a huge number would
    overflow the database's integers: only ASCII digits count, and more than nine of them
    mean ``high``.
    """
    text = str(raw).strip() if raw is not None else ""
    if not text or not text.isascii() or not text.isdigit():
        return default
    if len(text) > 9:
        return high
    return min(high, max(low, int(text)))


def _page_number(request: Request) -> int:
    return parse_number(request.query_params.get("page"), 1, 1, MAX_PAGE)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["json"] = _json_value
    return env


def _json_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Flash:
    """What a form's result page shows once after the redirect: a notice, maybe a new key."""

    notice: str
    new_key: str | None = None
    new_key_id: str | None = None
    replaced_key_id: str | None = None


class FlashStore:
    """One-time messages for the page a form redirects to (Post/Redirect/Get).

    Held in the process's memory, keyed by the session's digest: a flash is read at most once
    and forgotten after ``FLASH_SECONDS``, so a one-time key never reaches a URL, a cookie or
    the database, and a reload of the result page shows nothing new and creates nothing.
    """

    def __init__(self, seconds: float = FLASH_SECONDS) -> None:
        self.seconds = seconds
        self._items: dict[str, tuple[float, Flash]] = {}
        self._lock = threading.Lock()

    def put(self, session: admin_store.Session, flash: Flash) -> None:
        """Keep ``flash`` for the session's next read (replacing an unread one)."""
        moment = time.monotonic()
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[0] > moment}
            self._items[session.digest] = (moment + self.seconds, flash)

    def take(self, session: admin_store.Session) -> Flash | None:
        """The session's flash, removed; None when there is none or it has expired."""
        with self._lock:
            found = self._items.pop(session.digest, None)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]


class AdminConsole:
    """The console's request handlers, bound to one database and settings."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        retention_days: int = activity_log.DEFAULT_RETENTION_DAYS,
        limiter: SignInLimiter | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.retention_days = retention_days
        self.limiter = limiter or SignInLimiter.from_settings(settings)
        self.gate = VerificationGate(settings.signin_max_verifications)
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.lifetime = timedelta(hours=settings.session_lifetime_hours)
        self.pruner = Pruner(retention_days)
        self.env = _environment()
        self.flashes = FlashStore()

    # -- plumbing ------------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status_code: int = 200,
        session: admin_store.Session | None = None,
    ) -> HTMLResponse:
        """Render a page with the security headers."""
        html = self.env.get_template(template).render(
            request=request, session=session, path=request.url.path, **context
        )
        response = HTMLResponse(html, status_code=status_code)
        response.headers.update(SECURITY_HEADERS)
        return response

    def tenant_url(self, request: Request) -> str:
        """The SCIM base URL to paste into the identity provider."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/") + SCIM_PREFIX
        return f"{request.url.scheme}://{request.url.netloc}{SCIM_PREFIX}"

    def context(self, request: Request, actor: str) -> RequestContext:
        """Who did what, for an activity row of a console action.

        The row's client is left empty so the log shows the administrator (the actor); the
        address goes in the detail.
        """
        return RequestContext(request.method, request.url.path, None, actor=actor)

    async def session(self, request: Request) -> admin_store.Session | None:
        """The signed-in session of the request, if any; notes the page view (once a minute)."""
        token = read_cookie(request, self.settings.public_url, SESSION_COOKIE)
        if not token:
            return None

        def load() -> admin_store.Session | None:
            with self.database.connect(write=False) as connection:
                found = admin_store.load_session(connection, token, idle=self.idle)
            if found is not None and found.needs_touch(now()):
                with self.database.connect(write=True) as connection:
                    admin_store.touch_session(connection, found)
            return found

        return await run_in_threadpool(load)

    def refused(
        self,
        request: Request,
        refusal: FormRefused,
        session: admin_store.Session | None = None,
    ) -> HTMLResponse:
        """The page for a form refused before use (too large, too many or too long fields)."""
        return self.render(
            request,
            "error.html",
            {"title": "Form refused", "message": refusal.message},
            status_code=refusal.status,
            session=session,
        )

    def guarded(self, handler: Callable[[Request, admin_store.Session], Any]) -> Handler:
        """Require a session; on POST also a same-origin request with the session's CSRF token."""

        async def endpoint(request: Request) -> Response:
            session = await self.session(request)
            if session is None:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse("/signin?" + urlencode({"next": target}), 303)
            if request.method == "POST":
                try:
                    form = await read_form(request, self.settings.console_max_body_bytes)
                except FormRefused as refusal:
                    return self.refused(request, refusal, session)
                request.state.form = form
                if not same_origin(request) or not tokens_match(
                    session.csrf_token, form.get("csrf")
                ):
                    return self.render(
                        request,
                        "error.html",
                        {
                            "title": "Form expired",
                            "message": "The form was stale or came "
                            "from another site. Go back, reload the page and try again.",
                        },
                        status_code=403,
                        session=session,
                    )
            response: Response = await handler(request, session)
            return response

        return endpoint

    def not_found(self, request: Request, session: admin_store.Session) -> HTMLResponse:
        """A 404 page inside the console."""
        return self.render(
            request,
            "error.html",
            {"title": "Not found", "message": "There is nothing here for your tenant."},
            status_code=404,
            session=session,
        )

    # -- sign-in -------------------------------------------------------------------------
    def _signin_page(
        self,
        request: Request,
        *,
        error: str | None = None,
        email: str = "",
        status: int = 200,
        no_admin: bool = False,
    ) -> HTMLResponse:
        """The sign-in form, and with ``no_admin`` the command that creates an administrator.

        The page is public: the hint names no tenant and says only that none has an administrator.
        """
        token = new_token()
        next_url = request.query_params.get("next", "/")
        if len(next_url) > 2048:
            next_url = "/"
        response = self.render(
            request,
            "signin.html",
            {
                "csrf": token,
                "error": error,
                "email": email,
                "next": _safe_next(next_url),
                "no_admin": no_admin,
                "title": "Sign in",
            },
            status_code=status,
        )
        set_cookie(
            response,
            request,
            self.settings.public_url,
            SIGNIN_CSRF_COOKIE,
            token,
            max_age=3600,
            same_site="strict",
        )
        return response

    async def signin(self, request: Request) -> Response:
        """GET: the sign-in form. POST: check the password, open a session."""

        def no_admin() -> bool:
            with self.database.connect(write=False) as connection:
                return not admin_store.any_admin(connection)

        if request.method == "GET":
            return self._signin_page(request, no_admin=await run_in_threadpool(no_admin))
        try:
            form = await read_form(request, self.settings.console_max_body_bytes)
        except FormRefused as refusal:
            return self.refused(request, refusal)
        email = str(form.get("email", "")).strip()
        password = str(form.get("password", ""))
        public_url = self.settings.public_url
        if not same_origin(request) or not tokens_match(
            read_cookie(request, public_url, SIGNIN_CSRF_COOKIE), form.get("csrf")
        ):
            return self._signin_page(
                request,
                error="The form expired. Please sign in again.",
                email=email,
                status=403,
            )
        address = client_address(request)
        wait = await self.limiter.retry_after(address, email)
        if wait:
            response = self._signin_page(
                request,
                error=f"Too many failed attempts. Try again in {math.ceil(wait / 60)} minutes.",
                email=email,
                status=429,
            )
            response.headers["Retry-After"] = str(wait)
            return response
        if self.gate.busy():
            response = self._signin_page(
                request,
                error="Too many sign-ins at once. Please try again in a moment.",
                email=email,
                status=503,
            )
            response.headers["Retry-After"] = "2"
            return response
        context = self.context(request, email[:320])
        detail = f"from {address}"

        def check() -> tuple[admin_store.Session, str] | None:
            # The verification holds no transaction: a SQLite write lock held during argon2
            # would stall every tenant's writes.
            with self.database.connect(write=False) as connection:
                found = admin_store.credentials(connection, email)
            matched = admin_store.password_matches(found, password)
            with self.database.connect(write=True) as connection:
                if found is None:
                    return None
                admin = found[0]
                if not matched:
                    activity_log.audit(
                        connection,
                        admin.tenant_id,
                        context,
                        "sign-in-failed",
                        resource_type="Admin",
                        resource_id=admin.id,
                        resource_name=admin.email,
                        status=401,
                        detail=f"wrong password {detail}",
                    )
                    return None
                admin_store.record_sign_in(connection, found, password)
                activity_log.audit(
                    connection,
                    admin.tenant_id,
                    context,
                    "sign-in",
                    resource_type="Admin",
                    resource_id=admin.id,
                    resource_name=admin.email,
                    detail=detail,
                )
                return admin_store.start_session(
                    connection, admin, lifetime=self.lifetime, idle=self.idle
                )

        opened = await self.gate.run(check)
        if opened is None:
            await self.limiter.failed(address, email)
            return self._signin_page(
                request,
                error="The e-mail or password is not right.",
                email=email,
                status=401,
                no_admin=await run_in_threadpool(no_admin),
            )
        await self.limiter.succeeded(address, email)
        _session, token = opened
        redirect = RedirectResponse(_safe_next(str(form.get("next", "/"))), 303)
        set_cookie(
            redirect,
            request,
            public_url,
            SESSION_COOKIE,
            token,
            max_age=int(self.lifetime.total_seconds()),
        )
        delete_cookie(redirect, request, public_url, SIGNIN_CSRF_COOKIE)
        return redirect

    async def signout(self, request: Request, session: admin_store.Session) -> Response:
        """End the session."""
        token = read_cookie(request, self.settings.public_url, SESSION_COOKIE)
        context = self.context(request, session.admin.email)
        address = client_address(request)

        def end() -> None:
            with self.database.connect(write=True) as connection:
                admin_store.end_session(connection, token)
                activity_log.audit(
                    connection,
                    session.admin.tenant_id,
                    context,
                    "sign-out",
                    resource_type="Admin",
                    resource_id=session.admin.id,
                    resource_name=session.admin.email,
                    detail=f"from {address}",
                )

        await run_in_threadpool(end)
        response = RedirectResponse("/signin", 303)
        delete_cookie(response, request, self.settings.public_url, SESSION_COOKIE)
        return response

    # -- sync status ---------------------------------------------------------------------
    async def status(self, request: Request, session: admin_store.Session) -> Response:
        """Sync status: last request, host and group counts, recent changes and errors."""
        tenant_id = session.admin.tenant_id
        await run_in_threadpool(self.pruner.maybe_prune, self.database)

        def load() -> dict[str, Any]:
            with self.database.connect(write=False) as connection:
                tenant = tenant_store.get_tenant(connection, tenant_id)
                counted = queries.counts(connection, tenant_id)
                recent = activity_log.summary(connection, tenant_id, timedelta(days=1))
                totals = activity_log.request_totals(connection, tenant_id, timedelta(days=1))
                _, failures = activity_log.page(
                    connection, tenant_id, ActivityFilter(outcome="failure"), limit=5
                )
            return {
                "tenant": tenant,
                "counts": counted,
                "recent": recent,
                "totals": totals,
                "failures": failures,
            }

        data = await run_in_threadpool(load)
        recent: activity_log.Summary = data["recent"]
        counted: queries.Counts = data["counts"]
        last_request = max(
            (m for m in (counted.last_key_use, recent.last_at) if m is not None), default=None
        )
        totals: activity_log.RequestTotals = data["totals"]
        # docs/reference/entra-engine.md#quarantine: Entra quarantines a job when most of its calls
        # fail (escrow: over 40 % of events). Warn on the day's request error ratio, or on the
        # latest changes when the counters have not been flushed yet.
        quarantine = (totals.requests >= 10 and totals.error_ratio > QUARANTINE_RATIO) or (
            recent.recent_count >= 5 and recent.recent_failure_ratio >= 0.5
        )
        return self.render(
            request,
            "status.html",
            {
                **data,
                "last_request": last_request,
                "quarantine": quarantine,
                "title": "Sync status",
            },
            session=session,
        )

    # -- integrations --------------------------------------------------------------------
    async def entra(self, request: Request, session: admin_store.Session) -> Response:
        """Integrations > Host Synchronization > Microsoft Entra ID (and a form's flash)."""
        tenant_id = session.admin.tenant_id
        flash = self.flashes.take(session)

        def load() -> list[tenant_store.ApiKey]:
            with self.database.connect(write=False) as connection:
                return tenant_store.list_keys(connection, tenant_id)

        keys = await run_in_threadpool(load)
        tenant_url = self.tenant_url(request)
        replaced_by = None
        if flash is not None and flash.replaced_key_id:
            replaced_by = next((k for k in keys if k.id == flash.new_key_id), None)
        response = self.render(
            request,
            "entra.html",
            {
                "title": "Microsoft Entra ID",
                "tenant_url": tenant_url,
                "unreachable": unreachable_from_cloud(tenant_url),
                "active_keys": [k for k in keys if k.revoked_at is None],
                "revoked_keys": [k for k in keys if k.revoked_at is not None],
                "new_key": None if flash is None else flash.new_key,
                "new_key_id": None if flash is None else flash.new_key_id,
                "replaced_key_id": None if flash is None else flash.replaced_key_id,
                "replaced_by": replaced_by,
                "notice": None if flash is None else flash.notice,
            },
            session=session,
        )
        response.headers["Cache-Control"] = "no-store"  # a one-time key is never cached
        return response

    def flash_to_entra(self, session: admin_store.Session, flash: Flash) -> Response:
        """Keep the result for one read and redirect to the Entra page (Post/Redirect/Get)."""
        self.flashes.put(session, flash)
        return RedirectResponse(ENTRA_PAGE, 303)

    async def create_key(self, request: Request, session: admin_store.Session) -> Response:
        """Generate a key and show it once."""
        label = str(request.state.form.get("label", "")).strip()[:200] or "Microsoft Entra ID"
        tenant_id = session.admin.tenant_id
        context = self.context(request, session.admin.email)

        def create() -> tuple[str, str]:
            with self.database.connect(write=True) as connection:
                created, key = tenant_store.create_key(connection, tenant_id, label)
                activity_log.audit(
                    connection,
                    tenant_id,
                    context,
                    "create",
                    resource_type="ApiKey",
                    resource_id=created.id,
                    resource_name=f"{created.label} ({created.prefix}…)",
                )
                return created.id, key

        key_id, key = await run_in_threadpool(create)
        return self.flash_to_entra(
            session,
            Flash(
                notice=f"Key “{label}” created. Copy it now: it is shown only once.",
                new_key=key,
                new_key_id=key_id,
            ),
        )

    async def revoke_key(self, request: Request, session: admin_store.Session) -> Response:
        """Revoke a key of the tenant."""
        key_id = request.path_params["key_id"]
        tenant_id = session.admin.tenant_id

        context = self.context(request, session.admin.email)

        def revoke() -> bool:
            with self.database.connect(write=True) as connection:
                try:
                    tenant_store.revoke_key(connection, tenant_id, key_id)
                except tenant_store.TenantError:
                    return False
                known = {k.id: k for k in tenant_store.list_keys(connection, tenant_id)}
                revoked = known.get(key_id)
                activity_log.audit(
                    connection,
                    tenant_id,
                    context,
                    "revoke",
                    resource_type="ApiKey",
                    resource_id=key_id,
                    resource_name=None
                    if revoked is None
                    else f"{revoked.label} ({revoked.prefix}…)",
                )
                return True

        if not await run_in_threadpool(revoke):
            return self.not_found(request, session)
        return self.flash_to_entra(
            session, Flash(notice="Key revoked. Requests using it are refused from now on.")
        )

    async def rotate_key(self, request: Request, session: admin_store.Session) -> Response:
        """Create a replacement for a key; the old one keeps working until revoked."""
        key_id = request.path_params["key_id"]
        tenant_id = session.admin.tenant_id

        context = self.context(request, session.admin.email)

        def rotate() -> tuple[str, str] | None:
            with self.database.connect(write=True) as connection:
                old = next(
                    (k for k in tenant_store.list_keys(connection, tenant_id) if k.id == key_id),
                    None,
                )
                if old is None or old.revoked_at is not None:
                    return None
                label = f"{old.label} (rotated {now():%Y-%m-%d})"[:200]
                created, key = tenant_store.create_key(connection, tenant_id, label)
                activity_log.audit(
                    connection,
                    tenant_id,
                    context,
                    "rotate",
                    resource_type="ApiKey",
                    resource_id=created.id,
                    resource_name=f"{created.label} ({created.prefix}…)",
                    detail=f"replaces key {old.id} ({old.prefix}…), which keeps working "
                    "until revoked",
                )
                return created.id, key

        rotated = await run_in_threadpool(rotate)
        if rotated is None:
            return self.not_found(request, session)
        return self.flash_to_entra(
            session,
            Flash(
                notice="New key created; the old key keeps working until you revoke it. Paste "
                "the new key into your identity provider, test the connection, then revoke the "
                "old one.",
                new_key=rotated[1],
                new_key_id=rotated[0],
                replaced_key_id=key_id,
            ),
        )

    # -- hosts ---------------------------------------------------------------------------
    async def hosts(self, request: Request, session: admin_store.Session) -> Response:
        """The searchable, paged host list."""
        search = request.query_params.get("q", "")[:200]
        status = request.query_params.get("status", "")
        number = _page_number(request)

        def load() -> tuple[int, list[queries.HostRow]]:
            with self.database.connect(write=False) as connection:
                return queries.list_hosts(
                    connection,
                    session.admin.tenant_id,
                    search=search,
                    status=status,
                    offset=(number - 1) * queries.PAGE_SIZE,
                )

        total, rows = await run_in_threadpool(load)
        return self.render(
            request,
            "hosts.html",
            {
                "title": "Hosts",
                "rows": rows,
                "q": search,
                "status": status,
                "paging": _paging(request, number, total, queries.PAGE_SIZE),
            },
            session=session,
        )

    async def host(self, request: Request, session: admin_store.Session) -> Response:
        """One host: attributes, groups, change history."""
        host_id = request.path_params["host_id"]
        tenant_id = session.admin.tenant_id

        def load() -> tuple[queries.Host | None, list[activity_log.Entry]]:
            with self.database.connect(write=False) as connection:
                found = queries.get_host(connection, tenant_id, host_id)
                _, history = activity_log.page(
                    connection, tenant_id, ActivityFilter(resource_id=host_id), limit=100
                )
                return found, history

        found, history = await run_in_threadpool(load)
        if found is None:
            return self.not_found(request, session)
        attributes = sorted(activity_log.flatten(found.document).items())
        return self.render(
            request,
            "host.html",
            {
                "title": found.row.user_name,
                "host": found,
                "attributes": attributes,
                "history": history,
            },
            session=session,
        )

    async def purge(self, request: Request, session: admin_store.Session) -> Response:
        """GET: confirm; POST: erase a soft-deleted host (the only hard delete)."""
        host_id = request.path_params["host_id"]
        tenant_id = session.admin.tenant_id

        def load() -> queries.Host | None:
            with self.database.connect(write=False) as connection:
                return queries.get_host(connection, tenant_id, host_id)

        found = await run_in_threadpool(load)
        if found is None or found.deleted_at is None:
            return self.not_found(request, session)
        error = None
        if request.method == "POST":
            typed = str(request.state.form.get("confirm", "")).strip()
            if typed.casefold() == found.row.user_name.casefold():
                context = RequestContext(
                    "POST",
                    request.url.path,
                    request.headers.get("user-agent"),
                    actor=session.admin.email,
                )

                def erase() -> bool:
                    with self.database.connect(write=True) as connection:
                        return queries.purge_host(connection, tenant_id, host_id, context)

                await run_in_threadpool(erase)
                return RedirectResponse("/hosts?status=deleted&purged=1", 303)
            error = "The name typed does not match the host's user name."
        return self.render(
            request,
            "purge.html",
            {"title": "Purge host", "host": found, "error": error},
            status_code=422 if error else 200,
            session=session,
        )

    # -- groups --------------------------------------------------------------------------
    async def groups(self, request: Request, session: admin_store.Session) -> Response:
        """The group list."""
        search = request.query_params.get("q", "")[:200]
        number = _page_number(request)

        def load() -> tuple[int, list[queries.GroupRow]]:
            with self.database.connect(write=False) as connection:
                return queries.list_groups(
                    connection,
                    session.admin.tenant_id,
                    search=search,
                    offset=(number - 1) * queries.PAGE_SIZE,
                )

        total, rows = await run_in_threadpool(load)
        return self.render(
            request,
            "groups.html",
            {
                "title": "Groups",
                "rows": rows,
                "q": search,
                "paging": _paging(request, number, total, queries.PAGE_SIZE),
            },
            session=session,
        )

    async def group(self, request: Request, session: admin_store.Session) -> Response:
        """One group and a page of its members."""
        group_id = request.path_params["group_id"]
        tenant_id = session.admin.tenant_id
        number = _page_number(request)

        def load() -> tuple[queries.GroupRow | None, list[tuple[str, str, str]]]:
            with self.database.connect(write=False) as connection:
                found = queries.get_group(connection, tenant_id, group_id)
                if found is None:
                    return None, []
                members = queries.group_members(
                    connection, tenant_id, group_id, offset=(number - 1) * queries.PAGE_SIZE
                )
                return found, members

        found, members = await run_in_threadpool(load)
        if found is None:
            return self.not_found(request, session)
        return self.render(
            request,
            "group.html",
            {
                "title": found.display_name,
                "group": found,
                "members": members,
                "paging": _paging(request, number, found.members, queries.PAGE_SIZE),
            },
            session=session,
        )

    # -- activity ------------------------------------------------------------------------
    def _filter(self, request: Request) -> ActivityFilter:
        params = request.query_params
        outcome = params.get("outcome", "")
        resource = params.get("resource", "")
        period = PERIODS.get(params.get("period", ""))
        return ActivityFilter(
            outcome=outcome if outcome in activity_log.OUTCOMES else None,
            resource_type=resource if resource in activity_log.RESOURCE_TYPES else None,
            resource_id=params.get("id") or None,
            since=None if period is None else now() - period,
        )

    async def activity(self, request: Request, session: admin_store.Session) -> Response:
        """Provisioning activity, filtered and paged."""
        selected = self._filter(request)
        number = _page_number(request)
        await run_in_threadpool(self.pruner.maybe_prune, self.database)

        def load() -> tuple[int, list[activity_log.Entry]]:
            with self.database.connect(write=False) as connection:
                return activity_log.page(
                    connection,
                    session.admin.tenant_id,
                    selected,
                    offset=(number - 1) * ACTIVITY_PAGE,
                    limit=ACTIVITY_PAGE,
                )

        total, entries = await run_in_threadpool(load)
        params = request.query_params
        return self.render(
            request,
            "activity.html",
            {
                "title": "Provisioning activity",
                "entries": entries,
                "total": total,
                "outcome": params.get("outcome", ""),
                "resource": params.get("resource", ""),
                "period": params.get("period", ""),
                "csv_query": urlencode(
                    {k: v for k, v in params.items() if k in ("outcome", "resource", "period")}
                ),
                "retention_days": self.retention_days,
                "pruned": params.get("pruned"),
                "paging": _paging(request, number, total, ACTIVITY_PAGE),
            },
            session=session,
        )

    async def activity_csv(self, request: Request, session: admin_store.Session) -> Response:
        """The filtered activity as a CSV download."""
        selected = self._filter(request)
        chunks = activity_log.stream_csv(self.database, session.admin.tenant_id, selected)
        response = StreamingResponse(chunks, media_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="provisioning-activity-{now():%Y%m%d-%H%M}.csv"'
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    async def prune(self, request: Request, session: admin_store.Session) -> Response:
        """Delete this tenant's activity older than N days (default: the retention period)."""
        days = parse_number(request.state.form.get("days"), self.retention_days, 1, MAX_PRUNE_DAYS)
        context = self.context(request, session.admin.email)

        def run() -> int:
            with self.database.connect(write=True) as connection:
                removed = activity_log.prune(connection, days, session.admin.tenant_id)
                activity_log.audit(
                    connection,
                    session.admin.tenant_id,
                    context,
                    "prune",
                    resource_type="Admin",
                    resource_id=session.admin.id,
                    resource_name=session.admin.email,
                    detail=f"{removed} entries older than {days} days removed",
                )
                return removed

        removed = await run_in_threadpool(run)
        return RedirectResponse(f"/activity?pruned={removed}", 303)

    async def home(self, request: Request) -> Response:
        """``/``: the sync status when signed in, else the sign-in page."""
        return await self.guarded(self.status)(request)


def unreachable_from_cloud(url: str) -> str | None:
    """Why a cloud provisioning service cannot call ``url``, or None when it may.

    Entra's provisioning service runs in Microsoft's cloud: it needs ``https:`` and a public
    host name or address. Loopback, private, link-local and ``.local``/``.localhost`` hosts
    and plain ``http:`` are refused (docs/deploy.md explains how to expose the server).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
    ):
        return f"{host} is a loopback or private address"
    if address is None and (
        host in {"localhost", ""}
        or host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa"))
        or "." not in host
    ):
        return f"{host or 'the host'} is not a public host name"
    if parts.scheme != "https":
        return "the address uses http:, and Entra requires https:"
    return None


def error_page(request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
    """The console's error page outside a route (unknown URLs, wrong methods): no session."""
    html = (
        _error_environment()
        .get_template("error.html")
        .render(request=request, session=None, path=request.url.path, title=title, message=message)
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


@lru_cache(maxsize=1)
def _error_environment() -> Environment:
    return _environment()


def _safe_next(target: str) -> str:
    """Only local paths are followed after sign-in (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _paging(request: Request, number: int, total: int, size: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / size))

    def link(n: int) -> str:
        params = dict(request.query_params)
        params["page"] = str(n)
        return f"{request.url.path}?{urlencode(params)}"

    return {
        "number": number,
        "pages": pages,
        "total": total,
        "previous": link(number - 1) if number > 1 else None,
        "next": link(number + 1) if number < pages else None,
    }


def admin_routes(
    database: Database,
    settings: Settings,
    *,
    retention_days: int = activity_log.DEFAULT_RETENTION_DAYS,
    limiter: SignInLimiter | None = None,
) -> list[BaseRoute]:
    """The console's routes, to add to the application's."""
    console = AdminConsole(database, settings, retention_days=retention_days, limiter=limiter)
    g = console.guarded
    sync = "/integrations/host-synchronization"
    return [
        Route("/", console.home, methods=["GET"], name="admin_home"),
        Route("/signin", console.signin, methods=["GET", "POST"]),
        Route("/signout", g(console.signout), methods=["POST"]),
        Route("/status", g(console.status), methods=["GET"]),
        Route(sync, _to_entra, methods=["GET"]),
        Route(f"{sync}/entra", g(console.entra), methods=["GET"]),
        Route(f"{sync}/keys", g(console.create_key), methods=["POST"]),
        Route(f"{sync}/keys/{{key_id}}/revoke", g(console.revoke_key), methods=["POST"]),
        Route(f"{sync}/keys/{{key_id}}/rotate", g(console.rotate_key), methods=["POST"]),
        Route("/hosts", g(console.hosts), methods=["GET"]),
        Route("/hosts/{host_id}", g(console.host), methods=["GET"]),
        Route("/hosts/{host_id}/purge", g(console.purge), methods=["GET", "POST"]),
        Route("/groups", g(console.groups), methods=["GET"]),
        Route("/groups/{group_id}", g(console.group), methods=["GET"]),
        Route("/activity", g(console.activity), methods=["GET"]),
        Route("/activity.csv", g(console.activity_csv), methods=["GET"]),
        Route("/activity/prune", g(console.prune), methods=["POST"]),
        Mount("/static/admin", StaticFiles(directory=HERE / "static"), name="admin_static"),
    ]


async def _to_entra(_request: Request) -> Response:
    return RedirectResponse("/integrations/host-synchronization/entra", 303)


__all__ = ["AdminConsole", "admin_routes", "error_page", "unreachable_from_cloud"]
