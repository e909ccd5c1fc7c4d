"""Item 4: over random multi-tenant data and random requests, no response carries another
tenant's data, and no request changes another tenant's data.

Three tenants get random users and groups; every value a tenant stores carries that tenant's
marker. Random requests from one tenant (lists, filters aimed at the others' values, reads,
writes and deletes of the others' ids, member additions of their users, searches, Bulk) must
never answer with another tenant's marker or with one of its ids that the caller did not send
itself; at the end each tenant's data is exactly as it was.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app

from .conftest import GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, SyncClient, new_tenant
from .fuzzstats import COUNTS, record

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@dataclass
class Tenant:
    marker: str
    client: SyncClient
    user_ids: list[str] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    user_names: list[str] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)
    """Other tenants' ids this tenant has sent itself (it may see them echoed back)."""

    @property
    def ids(self) -> list[str]:
        return self.user_ids + self.group_ids


def _populate(tenant: Tenant, data: st.DataObject | None, count: int, rng_token: str) -> None:
    for i in range(count):
        user_name = f"{tenant.marker}-u{i}-{rng_token}@example.com"
        body = {
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "externalId": f"{tenant.marker}-ext-{i}",
            "title": f"{tenant.marker} title {i}",
            "displayName": f"shared name {i}",  # the same in every tenant
            "emails": [{"value": user_name, "type": "work"}],
        }
        created = tenant.client.post("Users", json=body)
        assert created.status_code == 201, created.text
        tenant.user_ids.append(created.json()["id"])
        tenant.user_names.append(user_name)
    group = tenant.client.post(
        "Groups",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": "Shared group name",  # the same in every tenant
            "externalId": f"{tenant.marker}-group",
            "members": [{"value": uid} for uid in tenant.user_ids[:3]],
        },
    )
    assert group.status_code == 201, group.text
    tenant.group_ids.append(group.json()["id"])


@pytest.fixture
def tenants(database: Database) -> Iterator[list[Tenant]]:
    """Three tenants with users and a group each, all served by one app."""
    app = create_app(Settings(key_cache_seconds=60, rate_limit="none"), database)
    made: list[Tenant] = []
    try:
        for _ in range(3):
            _, key = new_tenant(database, "Isolated")
            tenant = Tenant(marker="T" + secrets.token_hex(6), client=SyncClient(app, key))
            made.append(tenant)
            _populate(tenant, None, 5, secrets.token_hex(3))
        yield made
    finally:
        for tenant in made:
            tenant.client.close()


def _snapshot(tenant: Tenant) -> Any:
    users = tenant.client.get("Users", params={"count": "1000", "sortBy": "userName"}).json()
    groups = tenant.client.get("Groups", params={"count": "1000"}).json()
    return users["Resources"], groups["Resources"]


@st.composite
def attack(draw: st.DrawFn, victim: Tenant, me: Tenant) -> tuple[str, str, Any, dict[str, str]]:
    """A random request from ``me`` aimed at ``victim``'s data."""
    their_id = draw(st.sampled_from(victim.ids))
    their_user = draw(st.sampled_from(victim.user_ids))
    their_name = draw(st.sampled_from(victim.user_names))
    my_group = me.group_ids[0]
    my_user = draw(st.sampled_from(me.user_ids))
    literal = orjson.dumps
    filter_ = draw(
        st.sampled_from(
            [
                f"userName eq {literal(their_name).decode()}",
                f"userName co {literal(victim.marker).decode()}",
                f"title sw {literal(victim.marker).decode()}",
                f"externalId eq {literal(victim.marker + '-ext-0').decode()}",
                f"id eq {literal(their_id).decode()}",
                f'emails[value co "{victim.marker}"]',
                f'displayName sw "shared" or id eq "{their_id}"',
                "userName pr",
                f'members[value eq "{their_user}"]',
                f'members.value eq "{their_user}"',
                f'displayName eq "Shared group name" and externalId co "{victim.marker}"',
            ]
        )
    )
    resource = draw(st.sampled_from(["Users", "Groups"]))
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": "pwned"}],
    }
    member_add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": their_user}]}],
    }
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return "GET", resource, None, {"filter": filter_, "count": "1000"}
    if kind == 1:
        return "POST", f"{resource}/.search", {"filter": filter_, "count": 1000}, {}
    if kind == 2:
        return "POST", ".search", {"filter": filter_, "count": 1000}, {}
    if kind == 3:
        return "GET", f"{resource}/{their_id}", None, {}
    if kind == 4:
        return "PATCH", f"Users/{their_user}", patch, {}
    if kind == 5:
        body = {"schemas": [USER_SCHEMA], "userName": "hijack-" + secrets.token_hex(4)}
        return "PUT", f"Users/{their_user}", body, {}
    if kind == 6:
        return "DELETE", f"{resource}/{their_id}", None, {}
    if kind == 7:
        return "PATCH", f"Groups/{my_group}", member_add, {"attributes": "members"}
    if kind == 8:
        return "GET", f"Groups/{my_group}", None, {}
    if kind == 9:
        ops = [
            {"method": "PATCH", "path": f"/Users/{their_user}", "data": patch},
            {"method": "DELETE", "path": f"/Groups/{victim.group_ids[0]}"},
            {"method": "PATCH", "path": f"/Groups/{my_group}", "data": member_add},
        ]
        return "POST", "Bulk", {"schemas": [BULK], "Operations": ops}, {}
    if kind == 10:
        return "GET", f"Users/{my_user}", None, {"attributes": "groups,userName"}
    return "GET", "Users", None, {"count": "1000", "sortBy": "displayName"}


def _leaks(response: httpx.Response, victim: Tenant, sent: set[str]) -> list[str]:
    text = response.text
    found = [victim.marker] if victim.marker in text else []
    found += [i for i in victim.ids if i in text and i not in sent]
    return found


@settings(
    max_examples=80,
    deadline=None,  # correctness, not speed: a stall on a shared machine is no failure
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_response_holds_another_tenants_data(tenants: list[Tenant], data: st.DataObject) -> None:
    """Random cross-tenant requests: no foreign marker, no foreign id the caller did not send."""
    me_index = data.draw(st.integers(0, 2))
    me = tenants[me_index]
    for _ in range(3):
        victim = tenants[data.draw(st.sampled_from([i for i in range(3) if i != me_index]))]
        method, path, body, params = data.draw(attack(victim, me))
        me.sent |= {
            i for i in victim.ids if i in path or (body and i in orjson.dumps(body).decode())
        }
        response = me.client.request(method, path, json=body, params=params)
        record(response.status_code)
        COUNTS["isolation"] += 1
        assert response.status_code < 500, response.text
        for other in tenants:
            if other is not me:
                assert not _leaks(response, other, me.sent), (method, path, body, response.text)
        if method in ("PATCH", "PUT", "DELETE") and path.split("/")[-1] in victim.ids:
            assert response.status_code == 404, (method, path, response.text)


def test_cross_tenant_writes_change_nothing(tenants: list[Tenant]) -> None:
    """Each tenant's data is byte-for-byte the same after the others' attacks."""
    before = [_snapshot(t) for t in tenants]
    attacker, victim = tenants[0], tenants[1]
    for uid in victim.user_ids:
        assert attacker.client.delete(f"Users/{uid}").status_code == 404
        patched = attacker.client.patch(
            f"Users/{uid}",
            json={
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            },
        )
        assert patched.status_code == 404
    assert attacker.client.delete(f"Groups/{victim.group_ids[0]}").status_code == 404
    assert [_snapshot(t) for t in tenants[1:]] == before[1:]
