"""The group pages: the searchable list, and one group with a page of its members."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hostsync.store import admins as admin_store
from hostsync.store import console as queries
from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.paging import page_number, paging


async def list_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """The group list."""
    search = request.query_params.get("q", "")[:200]
    number = page_number(request)

    def load() -> tuple[int, list[queries.GroupRow]]:
        with console.database.connect(write=False) as connection:
            return queries.list_groups(
                connection,
                session.admin.tenant_id,
                search=search,
                offset=(number - 1) * queries.PAGE_SIZE,
            )

    total, rows = await run_in_threadpool(load)
    return console.render(
        request,
        "groups.html",
        {
            "title": "Groups",
            "rows": rows,
            "q": search,
            "paging": paging(request, number, total, queries.PAGE_SIZE),
        },
        session=session,
    )


async def group_page(
    console: AdminConsole, request: Request, session: admin_store.Session
) -> Response:
    """One group and a page of its members."""
    group_id = request.path_params["group_id"]
    tenant_id = session.admin.tenant_id
    number = page_number(request)

    def load() -> tuple[queries.GroupRow | None, list[tuple[str, str, str]]]:
        with console.database.connect(write=False) as connection:
            found = queries.get_group(connection, tenant_id, group_id)
            if found is None:
                return None, []
            members = queries.group_members(
                connection, tenant_id, group_id, offset=(number - 1) * queries.PAGE_SIZE
            )
            return found, members

    found, members = await run_in_threadpool(load)
    if found is None:
        return console.not_found(request, session)
    return console.render(
        request,
        "group.html",
        {
            "title": found.display_name,
            "group": found,
            "members": members,
            "paging": paging(request, number, found.members, queries.PAGE_SIZE),
        },
        session=session,
    )
