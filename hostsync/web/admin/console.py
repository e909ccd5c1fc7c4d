"""One console's shared state and the plumbing every page goes through.

Every page but sign-in needs a session (:meth:`AdminConsole.guarded`); a guarded POST is read
with a size cap before anything else, then must be same-origin and carry the session's CSRF
token. A page handler gets the console, the request and the session, and scopes every query
by ``session.admin.tenant_id``, so an administrator sees only their own tenant.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hostsync.config import Settings
from hostsync.store import admins as admin_store
from hostsync.store.activity import pruning
from hostsync.store.activity.pruning import Pruner
from hostsync.store.activity.recording import RequestContext
from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.web.admin import pages
from hostsync.web.admin.cookies import SESSION_COOKIE, read_cookie
from hostsync.web.admin.flash import FlashStore
from hostsync.web.admin.forms import FormRefused, read_form, same_origin, tokens_match
from hostsync.web.admin.security import SignInLimiter, VerificationGate

Handler = Callable[[Request], Awaitable[Response]]
PublicPage = Callable[["AdminConsole", Request], Awaitable[Response]]
Page = Callable[["AdminConsole", Request, admin_store.Session], Awaitable[Response]]
FormReader = Callable[[Request], Awaitable[FormData]]


class AdminConsole:
    """The console's state, bound to one database and settings, and its request plumbing."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        retention_days: int = pruning.DEFAULT_RETENTION_DAYS,
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
        self.env = pages.environment()
        self.flashes = FlashStore()

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
        return pages.render(
            self.env, request, template, context, status_code=status_code, session=session
        )

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

    def not_found(self, request: Request, session: admin_store.Session) -> HTMLResponse:
        """A 404 page inside the console."""
        return self.render(
            request,
            "error.html",
            {"title": "Not found", "message": "There is nothing here for your tenant."},
            status_code=404,
            session=session,
        )

    def public(self, page: PublicPage) -> Handler:
        """An endpoint for ``page`` that needs no session (sign-in)."""

        async def endpoint(request: Request) -> Response:
            return await page(self, request)

        return endpoint

    def guarded(self, page: Page, *, reader: FormReader | None = None) -> Handler:
        """Require a session; on POST also a same-origin request with the session's CSRF token.

        ``reader`` reads the POST body instead of :func:`read_form` (an upload's own cap).
        """
        read = reader or (lambda request: read_form(request, self.settings.console_max_body_bytes))

        async def endpoint(request: Request) -> Response:
            session = await self.session(request)
            if session is None:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                return RedirectResponse("/signin?" + urlencode({"next": target}), 303)
            if request.method == "POST":
                try:
                    form = await read(request)
                except FormRefused as refusal:
                    return self.refused(request, refusal, session)
                request.state.form = form
                if not same_origin(request) or not tokens_match(
                    session.csrf_token, form.get("csrf")
                ):
                    await form.close()  # an upload's files
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
            return await page(self, request, session)

        return endpoint
