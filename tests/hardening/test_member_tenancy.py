"""Issue 18, item 1: members belong to their tenant.

A member ``value`` that is not a live (not deleted) user or group of the caller's tenant is
refused with 400 ``invalidValue`` naming the id, through every way a member is added (POST,
PUT, PATCH in both Entra dialects, Bulk), and nothing of the request is written. Another
tenant's id is refused with an answer identical to that for an id that exists nowhere, so no
id can be probed. Every read that joins through memberships (SCIM and console) carries the
tenant, so a membership row that crossed tenants before migration 0600 shows nothing of the
other tenant.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from hostsync.config import Settings
from hostsync.scim.ports import UnknownMembersError
from hostsync.store import console
from hostsync.store.admin_tables import activity
from hostsync.store.admins import create_admin
from hostsync.store.clock import new_id
from hostsync.store.database import Database
from hostsync.store.tables import memberships
from hostsync.web.app import create_app

from .conftest import GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, assert_scim_error, client_for, new_tenant

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PASSWORD = "correct horse battery staple"


@dataclass
class Side:
    """One tenant: its id, a SCIM client, a live user, a deleted user and a group."""

    tenant_id: str
    client: httpx.AsyncClient
    user: str
    deleted_user: str
    group: str
    deleted_group: str


async def _side(client: httpx.AsyncClient, tenant_id: str, marker: str) -> Side:
    async def user(name: str) -> str:
        response = await client.post(
            "/Users", json={"schemas": [USER_SCHEMA], "userName": f"{name}@{marker}.example"}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def group(name: str) -> str:
        response = await client.post(
            "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": f"{marker} {name}"}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    live, gone = await user("live"), await user("gone")
    group_id, gone_group = await group("desk"), await group("gone")
    assert (await client.delete(f"/Users/{gone}")).status_code == 204
    assert (await client.delete(f"/Groups/{gone_group}")).status_code == 204
    return Side(tenant_id, client, live, gone, group_id, gone_group)


@pytest.fixture
async def sides(database: Database) -> AsyncIterator[tuple[Side, Side]]:
    """Tenants A and B, each with users and groups, served by one app."""
    app = create_app(Settings(key_cache_seconds=60, rate_limit="none"), database)
    (tenant_a, key_a), (tenant_b, key_b) = new_tenant(database, "A"), new_tenant(database, "B")
    async with client_for(app, key_a) as client_a, client_for(app, key_b) as client_b:
        yield await _side(client_a, tenant_a, "alpha"), await _side(client_b, tenant_b, "bravo")


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# Each way a request can add members: (name, method, path, body) for a list of member ids.
Adder = Callable[[Side, list[str]], tuple[str, str, dict[str, Any]]]
ADDERS: dict[str, Adder] = {
    "POST /Groups": lambda a, ids: (
        "POST",
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "new group",
            "members": [{"value": i} for i in ids],
        },
    ),
    "PUT /Groups/{id}": lambda a, ids: (
        "PUT",
        f"/Groups/{a.group}",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "alpha desk",
            "members": [{"value": i} for i in ids],
        },
    ),
    "PATCH add members (path)": lambda a, ids: (
        "PATCH",
        f"/Groups/{a.group}",
        _patch({"op": "Add", "path": "members", "value": [{"value": i} for i in ids]}),
    ),
    "PATCH add (no path)": lambda a, ids: (
        "PATCH",
        f"/Groups/{a.group}",
        _patch({"op": "add", "value": {"members": [{"value": i} for i in ids]}}),
    ),
    "PATCH replace members": lambda a, ids: (
        "PATCH",
        f"/Groups/{a.group}",
        _patch({"op": "replace", "path": "members", "value": [{"value": i} for i in ids]}),
    ),
    "PATCH add bare ids": lambda a, ids: (
        "PATCH",
        f"/Groups/{a.group}",
        _patch({"op": "add", "path": "members", "value": list(ids)}),
    ),
}


def _bulk(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    operation = {"method": method, "path": path, "data": body}
    if method == "POST":
        operation["bulkId"] = "g"
    return {"schemas": [BULK], "Operations": [operation]}


async def _send(
    a: Side, adder: str, ids: list[str], *, bulk: bool = False
) -> tuple[int, dict[str, Any]]:
    """Send the request; return the status and error body (Bulk: the operation's)."""
    method, path, body = ADDERS[adder](a, ids)
    if not bulk:
        response = await a.client.request(method, path, json=body)
        if response.status_code >= 400:
            assert_scim_error(response)
        return response.status_code, response.json()
    response = await a.client.post("/Bulk", json=_bulk(method, path, body))
    assert response.status_code == 200, response.text
    (result,) = response.json()["Operations"]
    return int(result["status"]), result.get("response", {})


def _members(a_group: dict[str, Any]) -> list[str]:
    return sorted(member["value"] for member in a_group.get("members", []))


async def _state(a: Side) -> tuple[list[str], str, int]:
    """Tenant A's group members and version, and how many groups A has."""
    group = (await a.client.get(f"/Groups/{a.group}")).json()
    total = (await a.client.get("/Groups")).json()["totalResults"]
    return _members(group), group["meta"]["version"], total


def _successes(database: Database, tenant_id: str) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(activity)
                .where(activity.c.tenant_id == tenant_id, activity.c.status < 400)
            ).scalar_one()
        )


def _refused(status: int, body: dict[str, Any], named: str) -> None:
    assert status == 400, body
    assert body["scimType"] == "invalidValue", body
    assert f"'{named}'" in body["detail"], body


@pytest.mark.parametrize("bulk", [False, True], ids=["direct", "bulk"])
@pytest.mark.parametrize("adder", list(ADDERS))
@pytest.mark.parametrize("kind", ["other tenant's user", "other tenant's group", "nowhere"])
async def test_a_member_not_of_the_callers_tenant_is_refused_and_nothing_is_written(
    sides: tuple[Side, Side], database: Database, adder: str, bulk: bool, kind: str
) -> None:
    """POST, PUT, PATCH (both Entra dialects) and Bulk refuse a member that is not a user or
    group of the caller's tenant with 400 invalidValue naming it; the group, its members and
    the tenant's groups are as before, and no change reaches the activity log."""
    a, b = sides
    own = [a.user]
    foreign = {"other tenant's user": b.user, "other tenant's group": b.group, "nowhere": new_id()}
    before = await _state(a)
    logged = _successes(database, a.tenant_id)
    status, body = await _send(a, adder, [*own, foreign[kind]], bulk=bulk)
    _refused(status, body, foreign[kind])
    assert await _state(a) == before
    assert _successes(database, a.tenant_id) == logged
    # B's side is untouched too: its user is in none of A's groups, and B sees no change.
    assert (await b.client.get(f"/Users/{b.user}")).json().get("groups", []) == []


@pytest.mark.parametrize("adder", list(ADDERS))
@pytest.mark.parametrize("which", ["user", "group"])
async def test_a_deleted_member_cannot_be_added(
    sides: tuple[Side, Side], adder: str, which: str
) -> None:
    """A soft-deleted user or group of the caller's own tenant is refused like any unknown id."""
    a, _ = sides
    gone = a.deleted_user if which == "user" else a.deleted_group
    before = await _state(a)
    status, body = await _send(a, adder, [gone])
    _refused(status, body, gone)
    assert await _state(a) == before


async def test_another_tenants_id_answers_exactly_as_an_id_that_exists_nowhere(
    sides: tuple[Side, Side],
) -> None:
    """No probing by error difference: the refusal of B's user id, B's group id and a random
    id of the same shape differ only by the id itself, for every way of adding a member."""
    a, b = sides
    for adder in ADDERS:
        for bulk in (False, True):
            answers = set()
            for probe in (b.user, b.group, new_id()):
                status, body = await _send(a, adder, [probe], bulk=bulk)
                answers.add((status, repr(body).replace(probe, "<id>")))
            assert len(answers) == 1, (adder, bulk, answers)


async def test_a_patch_with_a_good_and_a_bad_member_adds_neither(
    sides: tuple[Side, Side],
) -> None:
    """The whole request is refused: good members in the same or an earlier operation are
    not added either."""
    a, b = sides
    mine = (await a.client.post("/Users", json={"userName": "second@alpha.example"})).json()["id"]
    before = await _state(a)
    body = _patch(
        {"op": "add", "path": "members", "value": [{"value": a.user}]},
        {"op": "add", "path": "members", "value": [{"value": mine}, {"value": b.user}]},
    )
    response = await a.client.patch(f"/Groups/{a.group}", json=body)
    assert_scim_error(response, 400)
    assert response.json()["scimType"] == "invalidValue"
    assert await _state(a) == before
    assert (await a.client.get(f"/Users/{a.user}")).json().get("groups", []) == []


async def test_several_unknown_ids_are_named_in_the_order_sent(sides: tuple[Side, Side]) -> None:
    """The detail names the unknown ids as sent (the first five, then how many more)."""
    a, b = sides
    unknown = [b.user, *(new_id() for _ in range(6))]
    status, body = await _send(a, "PATCH add members (path)", [a.user, *unknown])
    assert status == 400
    named = re.findall(r"'([0-9a-f]{32})'", body["detail"])
    assert named == unknown[:5]
    assert "and 2 more" in body["detail"]


async def test_own_users_and_groups_are_members_with_their_own_type(
    sides: tuple[Side, Side],
) -> None:
    """Live users and groups of the tenant are added, each typed as what it is whatever the
    client said, and the nested group's $ref points at /Groups."""
    a, _ = sides
    other = await a.client.post("/Groups", json={"displayName": "alpha nested"})
    nested = other.json()["id"]
    body = _patch(
        {
            "op": "add",
            "path": "members",
            "value": [{"value": a.user, "type": "Group"}, {"value": nested, "type": "User"}],
        }
    )
    response = await a.client.patch(f"/Groups/{a.group}?attributes=members", json=body)
    assert response.status_code == 200, response.text
    kinds = {m["value"]: (m["type"], m["$ref"]) for m in response.json()["members"]}
    assert kinds[a.user][0] == "User" and kinds[a.user][1].endswith(f"/Users/{a.user}")
    assert kinds[nested][0] == "Group" and kinds[nested][1].endswith(f"/Groups/{nested}")


async def test_a_bulk_group_may_name_a_user_created_earlier_in_the_same_request(
    sides: tuple[Side, Side],
) -> None:
    """``bulkId`` references to a user the same Bulk request created are members of the
    tenant (the check sees the request's own earlier writes)."""
    a, _ = sides
    body = {
        "schemas": [BULK],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "u",
                "data": {"schemas": [USER_SCHEMA], "userName": "bulk@alpha.example"},
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g",
                "data": {"displayName": "alpha bulk", "members": [{"value": "bulkId:u"}]},
            },
        ],
    }
    response = await a.client.post("/Bulk", json=body)
    assert [op["status"] for op in response.json()["Operations"]] == ["201", "201"]


def _cross_tenant_rows(database: Database, a: Side, b: Side) -> None:
    """Rows that crossed tenants before 0600 (written past the store's check)."""
    with database.connect(write=True) as connection:
        connection.execute(
            insert(memberships),
            [
                # A's group holding B's user, filed under A (the console's group page).
                {
                    "group_id": a.group,
                    "member_id": b.user,
                    "tenant_id": a.tenant_id,
                    "member_type": "User",
                    "display": None,
                },
                # B's group holding A's user, filed under A (A's host page and SCIM groups).
                {
                    "group_id": b.group,
                    "member_id": a.user,
                    "tenant_id": a.tenant_id,
                    "member_type": "User",
                    "display": None,
                },
            ],
        )


async def test_reads_through_memberships_never_show_another_tenants_data(
    sides: tuple[Side, Side], database: Database
) -> None:
    """With membership rows that cross tenants (as before 0600), A's SCIM reads of its user's
    groups and the console's group and host read models show nothing of B: joins carry the
    tenant."""
    a, b = sides
    _cross_tenant_rows(database, a, b)
    b_name = "live@bravo.example"
    user = await a.client.get(f"/Users/{a.user}")
    assert b.group not in user.text and "bravo" not in user.text
    listed = await a.client.get("/Users", params={"filter": 'userName eq "live@alpha.example"'})
    assert b.group not in listed.text and "bravo" not in listed.text
    with database.connect(write=False) as connection:
        members = console.group_members(connection, a.tenant_id, a.group)
        host = console.get_host(connection, a.tenant_id, a.user)
    assert host is not None
    assert host.groups == []
    assert [name for _, _, name in members if name == b_name] == []


async def test_membership_filters_never_match_through_another_tenants_rows(
    sides: tuple[Side, Side], database: Database
) -> None:
    """A membership row that crossed tenants is invisible to membership filters: B cannot
    learn that its user was put in A's group by filtering on A's group id, nor find its own
    group by A's user id."""
    a, b = sides
    _cross_tenant_rows(database, a, b)
    for value_filter in (f'groups.value eq "{a.group}"', f'groups[value eq "{a.group}"]'):
        found = await b.client.get("/Users", params={"filter": value_filter})
        assert found.status_code == 200, found.text
        assert found.json()["totalResults"] == 0, value_filter
    by_member = await b.client.get("/Groups", params={"filter": f'members.value eq "{a.user}"'})
    assert by_member.json()["totalResults"] == 0


async def _console(database: Database, tenant_id: str) -> httpx.AsyncClient:
    email = f"admin-{tenant_id}@example.com"
    with database.connect(write=True) as connection:
        create_admin(connection, tenant_id, email, PASSWORD)
    app = create_app(Settings(key_cache_seconds=0), database)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    page = await http.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    signed = await http.post(
        "/signin",
        data={"csrf": csrf.group(1), "email": email, "password": PASSWORD, "next": "/"},
    )
    assert signed.status_code == 303, signed.text
    return http


async def test_console_group_and_host_pages_never_show_another_tenants_data(
    sides: tuple[Side, Side], database: Database
) -> None:
    """A's console group page does not show B's user's userName, and A's host page does not
    list B's group, even with membership rows that cross tenants."""
    a, b = sides
    _cross_tenant_rows(database, a, b)
    browser = await _console(database, a.tenant_id)
    try:
        group_page = await browser.get(f"/groups/{a.group}")
        host_page = await browser.get(f"/hosts/{a.user}")
    finally:
        await browser.aclose()
    assert group_page.status_code == 200 and host_page.status_code == 200
    assert "bravo" not in group_page.text
    assert "bravo" not in host_page.text and b.group not in host_page.text


async def test_the_error_for_a_foreign_member_is_recorded_without_the_others_data(
    sides: tuple[Side, Side], database: Database
) -> None:
    """The refused request is logged for A as a failure naming only the id A sent."""
    a, b = sides
    status, _ = await _send(a, "PATCH add members (path)", [b.user])
    assert status == 400
    with database.engine.connect() as connection:
        details = connection.execute(
            select(activity.c.detail).where(
                activity.c.tenant_id == a.tenant_id, activity.c.status == 400
            )
        ).all()
    assert any(b.user in (detail or "") for (detail,) in details)
    assert all("bravo" not in (detail or "") for (detail,) in details)


def _member_rows(database: Database, group_id: str) -> list[str]:
    with database.engine.connect() as connection:
        return [
            member
            for (member,) in connection.execute(
                select(memberships.c.member_id).where(memberships.c.group_id == group_id)
            )
        ]


def _user_and_group(database: Database, tenant_id: str) -> tuple[str, str]:
    with database.directory(tenant_id) as directory:
        user = directory.create_user({"userName": f"race-{new_id()}@alpha.example"})
        group = directory.create_group({"displayName": f"race {new_id()}"}, [])
    return user.id, group.id


@pytest.mark.parametrize("first", ["add", "delete"])
def test_a_member_deleted_while_it_is_added_leaves_no_membership(
    database: Database, first: str
) -> None:
    """A member add and the member's delete, in two concurrent transactions in either order,
    never leave a membership to a deleted user (on PostgreSQL the add locks the members it
    checked FOR SHARE, so the delete waits for it, or it waits for the delete and refuses)."""
    tenant_id, _ = new_tenant(database, "Race")
    user_id, group_id = _user_and_group(database, tenant_id)
    outcome: list[BaseException | None] = []

    def add() -> None:
        try:
            with database.directory(tenant_id) as directory:
                directory.add_members(group_id, [user_id])
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append(None)

    def delete() -> None:
        with database.directory(tenant_id) as directory:
            assert directory.delete_user(user_id)

    other = delete if first == "add" else add
    unit = database.directory(tenant_id)
    directory = unit.__enter__()
    try:  # the first transaction does its work and stays open while the second starts
        if first == "add":
            directory.add_members(group_id, [user_id])
        else:
            assert directory.delete_user(user_id)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)
    finally:
        unit.__exit__(None, None, None)
    thread.join(10)
    assert not thread.is_alive()
    assert _member_rows(database, group_id) == []
    with database.directory(tenant_id, write=False) as directory:
        assert not directory.has_more_members_than(group_id, 0)
        assert directory.get_user(user_id) is None
    if first == "delete":
        assert len(outcome) == 1 and isinstance(outcome[0], UnknownMembersError)
