"""Retention and erasure: how long visits keep personal data, and *Erase a visitor*.

- The retention period (days, the tenant's ``frontdesk_settings.retention_days``) is a form
  on the page; a change is audited and answered with a redirect (Post/Redirect/Get).
- *Erase a visitor* is two steps: the address typed (or a visit's *Erase this visitor* link,
  ``/retention/erase?visit=<id>``) shows how many visits will be anonymised; only the
  confirmation, a second POST, anonymises them. The result reaches the page once through the
  session's flash; the activity row says how many visits changed, never the address.
- Every query is scoped to the administrator's tenant: another tenant's visit id is "not
  found", and an address matches only this tenant's visits.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hostsync.frontdesk.retention import (
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    RetentionError,
    erasure_address,
    retention_days,
)
from hostsync.store import admins as admin_store
from hostsync.store.activity.erasures import erasure_recorder, retention_setting_recorded
from hostsync.store.frontdesk.retention import (
    ErasureTarget,
    erase_visitor,
    erasure_by_email,
    erasure_of_visit,
    retention_days_of,
    set_retention_days,
)
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.flash import Flash

PAGE = "/retention"
ERASE = "/retention/erase"


async def retention_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """GET: the retention period and the *Erase a visitor* form; POST: set the period."""
    tenant_id = session.admin.tenant_id
    if request.method == "POST":
        try:
            days = retention_days(request.state.form.get("days"))
        except RetentionError as exc:
            return await _page(console, request, session, days_error=str(exc), status_code=422)
        context = console.context(request, session.admin.email)

        def save() -> None:
            with console.database.connect(write=True) as connection:
                previous = set_retention_days(connection, tenant_id, days)
                retention_setting_recorded(connection, tenant_id, context, days, previous)

        await run_in_threadpool(save)
        console.flashes.put(
            session, Flash(notice=f"Visits are now anonymised {days} days after the check-in.")
        )
        return RedirectResponse(PAGE, 303)
    flash = console.flashes.take(session)
    return await _page(console, request, session, notice=None if flash is None else flash.notice)


async def _page(
    console: AdminConsole,
    request: Request,
    session: admin_store.Session,
    *,
    status_code: int = 200,
    **values: Any,
) -> Response:
    tenant_id = session.admin.tenant_id

    def load() -> int:
        with console.database.connect(write=False) as connection:
            return retention_days_of(connection, tenant_id)

    days = await run_in_threadpool(load)
    context = {
        "title": "Retention and erasure",
        "days": days,
        "min_days": MIN_RETENTION_DAYS,
        "max_days": MAX_RETENTION_DAYS,
        "notice": None,
        "days_error": None,
        "email_error": None,
        "email": "",
        **values,
    }
    return console.render(
        request, "erasure.html", context, status_code=status_code, session=session
    )


async def erase(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """GET ``?visit=``: confirm erasing a visit's visitor; POST: confirm, then erase."""
    tenant_id = session.admin.tenant_id
    source = request.query_params if request.method == "GET" else request.state.form
    visit_id = str(source.get("visit", "")).strip()[:64]
    email = "" if visit_id else str(source.get("email", ""))
    address: str | None = None
    if not visit_id:
        if request.method == "GET":
            return RedirectResponse(PAGE, 303)
        try:
            address = erasure_address(email)
        except RetentionError as exc:
            return await _page(
                console, request, session, email_error=str(exc), email=email, status_code=422
            )

    def find() -> ErasureTarget | None:
        with console.database.connect(write=False) as connection:
            if address is None:
                return erasure_of_visit(connection, tenant_id, visit_id)
            return erasure_by_email(connection, tenant_id, address)

    target = await run_in_threadpool(find)
    if target is None:
        return console.not_found(request, session)
    if request.method == "GET" or source.get("confirm") != "yes":
        return console.render(
            request,
            "erasure_confirm.html",
            {"title": "Erase a visitor", "target": target, "visit_id": visit_id, "email": email},
            session=session,
        )
    context = console.context(request, session.admin.email)
    count = await run_in_threadpool(
        lambda: erase_visitor(
            console.database, tenant_id, target, record=erasure_recorder(context, target)
        )
    )
    console.flashes.put(
        session,
        Flash(notice=f"Visitor erased: {count} visit{'' if count == 1 else 's'} anonymised."),
    )
    return RedirectResponse(PAGE, 303)
