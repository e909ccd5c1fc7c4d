"""Sign-in and sign-out: the public form, the password check, the session cookie.

The sign-in form is public and guarded by a double-submit CSRF cookie; failures are throttled
(:mod:`hostsync.web.admin.security`) and, like sign-ins and sign-outs, leave activity rows.
After sign-in only a local path is followed (no open redirect).
"""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from hostsync.store import admins as admin_store
from hostsync.store.activity import records
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.cookies import (
    SESSION_COOKIE,
    SIGNIN_CSRF_COOKIE,
    delete_cookie,
    read_cookie,
    set_cookie,
)
from hostsync.web.admin.forms import FormRefused, new_token, read_form, same_origin, tokens_match
from hostsync.web.admin.security import client_address


def _signin_page(
    console: AdminConsole,
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
    response = console.render(
        request,
        "signin.html",
        {
            "csrf": token,
            "error": error,
            "email": email,
            "next": safe_next(next_url),
            "no_admin": no_admin,
            "title": "Sign in",
        },
        status_code=status,
    )
    set_cookie(
        response,
        request,
        console.settings.public_url,
        SIGNIN_CSRF_COOKIE,
        token,
        max_age=3600,
        same_site="strict",
    )
    return response


async def sign_in(console: AdminConsole, request: Request) -> Response:
    """GET: the sign-in form. POST: check the password, open a session."""
    database = console.database

    def no_admin() -> bool:
        with database.connect(write=False) as connection:
            return not admin_store.any_admin(connection)

    if request.method == "GET":
        return _signin_page(console, request, no_admin=await run_in_threadpool(no_admin))
    try:
        form = await read_form(request, console.settings.console_max_body_bytes)
    except FormRefused as refusal:
        return console.refused(request, refusal)
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    public_url = console.settings.public_url
    if not same_origin(request) or not tokens_match(
        read_cookie(request, public_url, SIGNIN_CSRF_COOKIE), form.get("csrf")
    ):
        return _signin_page(
            console,
            request,
            error="The form expired. Please sign in again.",
            email=email,
            status=403,
        )
    address = client_address(request)
    wait = await console.limiter.retry_after(address, email)
    if wait:
        response = _signin_page(
            console,
            request,
            error=f"Too many failed attempts. Try again in {math.ceil(wait / 60)} minutes.",
            email=email,
            status=429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    if console.gate.busy():
        response = _signin_page(
            console,
            request,
            error="Too many sign-ins at once. Please try again in a moment.",
            email=email,
            status=503,
        )
        response.headers["Retry-After"] = "2"
        return response
    context = console.context(request, email[:320])
    detail = f"from {address}"

    def check() -> tuple[admin_store.Session, str] | None:
        # The verification holds no transaction: a SQLite write lock held during argon2
        # would stall every tenant's writes.
        with database.connect(write=False) as connection:
            found = admin_store.credentials(connection, email)
        matched = admin_store.password_matches(found, password)
        with database.connect(write=True) as connection:
            if found is None:
                return None
            admin = found[0]
            if not matched:
                records.audit(
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
            records.audit(
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
                connection, admin, lifetime=console.lifetime, idle=console.idle
            )

    opened = await console.gate.run(check)
    if opened is None:
        await console.limiter.failed(address, email)
        return _signin_page(
            console,
            request,
            error="The e-mail or password is not right.",
            email=email,
            status=401,
            no_admin=await run_in_threadpool(no_admin),
        )
    await console.limiter.succeeded(address, email)
    _session, token = opened
    redirect = RedirectResponse(safe_next(str(form.get("next", "/"))), 303)
    set_cookie(
        redirect,
        request,
        public_url,
        SESSION_COOKIE,
        token,
        max_age=int(console.lifetime.total_seconds()),
    )
    delete_cookie(redirect, request, public_url, SIGNIN_CSRF_COOKIE)
    return redirect


async def sign_out(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """End the session."""
    token = read_cookie(request, console.settings.public_url, SESSION_COOKIE)
    context = console.context(request, session.admin.email)
    address = client_address(request)

    def end() -> None:
        with console.database.connect(write=True) as connection:
            admin_store.end_session(connection, token)
            records.audit(
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
    delete_cookie(response, request, console.settings.public_url, SESSION_COOKIE)
    return response


def safe_next(target: str) -> str:
    """Only local paths are followed after sign-in (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
