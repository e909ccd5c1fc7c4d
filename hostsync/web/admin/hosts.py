"""The host pages: the searchable list, one host with its history, and the purge form.

Purge is the only hard delete: it erases a host already soft-deleted, and only once the
administrator types its user name.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hostsync.store import admins as admin_store
from hostsync.store import console as queries
from hostsync.store.activity import changes, labels
from hostsync.store.activity import queries as activity_log
from hostsync.store.activity.queries import ActivityFilter
from hostsync.store.activity.recording import RequestContext
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.paging import page_number, paging


async def list_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """The searchable, paged host list."""
    search = request.query_params.get("q", "")[:200]
    status = request.query_params.get("status", "")
    number = page_number(request)

    def load() -> tuple[int, list[queries.HostRow]]:
        with console.database.connect(write=False) as connection:
            return queries.list_hosts(
                connection,
                session.admin.tenant_id,
                search=search,
                status=status,
                offset=(number - 1) * queries.PAGE_SIZE,
            )

    total, rows = await run_in_threadpool(load)
    return console.render(
        request,
        "hosts.html",
        {
            "title": "Hosts",
            "rows": rows,
            "q": search,
            "status": status,
            "paging": paging(request, number, total, queries.PAGE_SIZE),
        },
        session=session,
    )


async def host_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """One host: attributes (by their labels), groups, change history (with names)."""
    host_id = request.path_params["host_id"]
    tenant_id = session.admin.tenant_id

    def load() -> tuple[queries.Host | None, list[labels.ChangeLine], list[activity_log.Readable]]:
        with console.database.connect(write=False) as connection:
            found = queries.get_host(connection, tenant_id, host_id)
            if found is None:
                return None, [], []
            flat = sorted(changes.flatten(found.document).items())
            rows = [{"path": path, "old": None, "new": value} for path, value in flat]
            names = activity_log.names_of(connection, tenant_id, labels.ids_to_name(rows))
            _, history = activity_log.page(
                connection, tenant_id, ActivityFilter(resource_id=host_id), limit=100
            )
            readable = activity_log.readable(connection, tenant_id, history)
            return found, labels.change_lines(rows, names), readable

    found, attributes, history = await run_in_threadpool(load)
    if found is None:
        return console.not_found(request, session)
    return console.render(
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


async def purge(console: AdminConsole, request: Request, session: admin_store.Session) -> Response:
    """GET: confirm; POST: erase a soft-deleted host (the only hard delete)."""
    host_id = request.path_params["host_id"]
    tenant_id = session.admin.tenant_id

    def load() -> queries.Host | None:
        with console.database.connect(write=False) as connection:
            return queries.get_host(connection, tenant_id, host_id)

    found = await run_in_threadpool(load)
    if found is None or found.deleted_at is None:
        return console.not_found(request, session)
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
                with console.database.connect(write=True) as connection:
                    return queries.purge_host(connection, tenant_id, host_id, context)

            await run_in_threadpool(erase)
            return RedirectResponse("/hosts?status=deleted&purged=1", 303)
        error = "The name typed does not match the host's user name."
    return console.render(
        request,
        "purge.html",
        {"title": "Purge host", "host": found, "error": error},
        status_code=422 if error else 200,
        session=session,
    )
