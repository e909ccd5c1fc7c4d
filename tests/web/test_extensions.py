"""Extension schemas a tenant declares, through the ASGI app (hostsync.scim.extensions).

Tenant A declares ``urn:…:Visitly:2.0:User``; tenant B declares nothing. A's requests
accept, store, filter, project and publish the extension's attributes; B's keep today's
behaviour for the same URN (a body's unknown object is ignored, a PATCH path or filter
naming it is a 400), and B's discovery documents never mention it. Every app here caches
verified keys for five minutes, so a change to A's declarations must reach the next request
through the key signal, not through the cache expiring.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hostsync.config import Settings
from hostsync.scim.extensions import DEFAULT_REGISTRY, DeclaredAttribute
from hostsync.scim.schema import AttrType
from hostsync.store.database import Database
from hostsync.store.extensions import declare, remove_declaration
from hostsync.store.key_signal import key_signal_for
from hostsync.store.tenants import Credential, create_key, create_tenant
from hostsync.web.app import create_app
from hostsync.web.registries import TenantRegistries

from ..hardening.conftest import assert_scim_error, client_for

VISITLY = "urn:ietf:params:scim:schemas:extension:Visitly:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CACHED = Settings(key_cache_seconds=300)
ATTRIBUTES = (
    DeclaredAttribute("site", AttrType.STRING, description="The host's site"),
    DeclaredAttribute("floor", AttrType.INTEGER),
    DeclaredAttribute("badge", AttrType.BOOLEAN),
    DeclaredAttribute("badgeCode", AttrType.STRING, case_exact=True),
)


@dataclass
class Tenants:
    database: Database
    a_id: str
    a: httpx.AsyncClient
    b_id: str
    b: httpx.AsyncClient


def _tenant(database: Database, name: str) -> tuple[str, str]:
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, name)
        _, key = create_key(connection, tenant.id, "test")
    return tenant.id, key


def _declare(database: Database, tenant_id: str, *attributes: DeclaredAttribute) -> None:
    with database.connect(write=True) as connection:
        declare(connection, tenant_id, VISITLY, attributes or ATTRIBUTES)


@pytest.fixture
async def tenants(database: Database) -> AsyncIterator[Tenants]:
    a_id, a_key = _tenant(database, "Declares")
    b_id, b_key = _tenant(database, "Declares nothing")
    _declare(database, a_id)
    app = create_app(CACHED, database)
    async with client_for(app, a_key) as a, client_for(app, b_key) as b:
        yield Tenants(database, a_id, a, b_id, b)


def _user(user_name: str, **extension: object) -> dict[str, object]:
    return {
        "schemas": [CORE_USER, VISITLY],
        "userName": user_name,
        "active": True,
        VISITLY: extension,
    }


def _patch(*operations: dict[str, object]) -> dict[str, object]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def _create(client: httpx.AsyncClient, user_name: str, **extension: object) -> str:
    response = await client.post("/Users", json=_user(user_name, **extension))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _listed(client: httpx.AsyncClient, scim_filter: str) -> list[str]:
    response = await client.get("/Users", params={"filter": scim_filter})
    assert response.status_code == 200, response.text
    return sorted(resource["userName"] for resource in response.json()["Resources"])


async def test_a_post_stores_and_returns_the_declared_attributes(tenants: Tenants) -> None:
    """POST with the extension object: values normalised by their declared types, stored,
    listed in ``schemas`` and returned by GET and by a list (the spliced page)."""
    response = await tenants.a.post(
        "/Users", json=_user("ada@contoso.com", site="Paris", floor=3, badge="True", other="x")
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["schemas"] == [CORE_USER, VISITLY]
    assert created[VISITLY] == {"site": "Paris", "floor": 3, "badge": True}
    fetched = (await tenants.a.get(f"/Users/{created['id']}")).json()
    assert fetched[VISITLY] == created[VISITLY]
    assert fetched["schemas"] == [CORE_USER, VISITLY]
    listed = (await tenants.a.get("/Users")).json()["Resources"]
    (mine,) = [user for user in listed if user["id"] == created["id"]]
    assert mine[VISITLY] == created[VISITLY] and mine["schemas"] == [CORE_USER, VISITLY]


async def test_fully_qualified_keys_and_put_replace_the_values(tenants: Tenants) -> None:
    """A body key ``urn:…:User:site`` is the same attribute; PUT replaces the object."""
    user_id = await _create(tenants.a, "put@contoso.com", site="Paris", floor=1)
    response = await tenants.a.put(
        f"/Users/{user_id}",
        json={"schemas": [CORE_USER], "userName": "put@contoso.com", f"{VISITLY}:site": "Lyon"},
    )
    assert response.status_code == 200, response.text
    assert response.json()[VISITLY] == {"site": "Lyon"}


async def test_a_value_of_the_wrong_type_is_a_400(tenants: Tenants) -> None:
    """``floor`` is declared an integer: a string is refused, nothing is stored."""
    response = await tenants.a.post("/Users", json=_user("typed@contoso.com", floor="three"))
    assert_scim_error(response, 400)
    assert response.json()["scimType"] == "invalidValue"
    assert await _listed(tenants.a, 'userName eq "typed@contoso.com"') == []


async def test_patch_accepts_both_entra_dialects(tenants: Tenants) -> None:
    """A path ``urn:…:User:site``, a path-less value keyed by the URN, a path-less value
    keyed by the attribute's full path, and a remove."""
    user_id = await _create(tenants.a, "patch@contoso.com", site="Paris")
    steps: list[tuple[dict[str, object], dict[str, object] | None]] = [
        ({"op": "Replace", "path": f"{VISITLY}:site", "value": "Lyon"}, {"site": "Lyon"}),
        (
            {"op": "add", "value": {VISITLY: {"floor": 4, "badge": "False"}}},
            {"site": "Lyon", "floor": 4, "badge": False},
        ),
        (
            {"op": "replace", "value": {f"{VISITLY}:site": "Nice"}},
            {"site": "Nice", "floor": 4, "badge": False},
        ),
        ({"op": "remove", "path": f"{VISITLY}:floor"}, {"site": "Nice", "badge": False}),
        ({"op": "replace", "path": VISITLY, "value": {"site": "Oslo"}}, None),
    ]
    for operation, expected in steps:
        response = await tenants.a.patch(f"/Users/{user_id}", json=_patch(operation))
        assert response.status_code == 200, response.text
        if expected is not None:
            assert response.json()[VISITLY] == expected, operation
    assert (await tenants.a.get(f"/Users/{user_id}")).json()[VISITLY]["site"] == "Oslo"


async def test_filters_on_declared_attributes(tenants: Tenants) -> None:
    """eq (case-insensitive unless caseExact), gt on an integer, booleans, pr, not, sortBy."""
    await _create(tenants.a, "f1@contoso.com", site="Paris", floor=1, badge=True, badgeCode="AB")
    await _create(tenants.a, "f2@contoso.com", site="paris", floor=5, badge=False, badgeCode="ab")
    await _create(tenants.a, "f3@contoso.com", site="Lyon", floor=10)
    await _create(tenants.a, "f4@contoso.com")
    assert await _listed(tenants.a, f'{VISITLY}:site eq "PARIS"') == [
        "f1@contoso.com",
        "f2@contoso.com",
    ]
    assert await _listed(tenants.a, f'{VISITLY}:badgeCode eq "AB"') == ["f1@contoso.com"]
    assert await _listed(tenants.a, f"{VISITLY}:floor gt 2") == ["f2@contoso.com", "f3@contoso.com"]
    assert await _listed(tenants.a, f"{VISITLY}:badge eq false") == ["f2@contoso.com"]
    assert await _listed(tenants.a, f"{VISITLY}:site pr") == [
        "f1@contoso.com",
        "f2@contoso.com",
        "f3@contoso.com",
    ]
    assert await _listed(tenants.a, f"not ({VISITLY}:site pr)") == ["f4@contoso.com"]
    assert await _listed(tenants.a, f'{VISITLY}:site sw "ly" and {VISITLY}:floor ge 10') == [
        "f3@contoso.com"
    ]
    for order, expected in (("descending", ["f3", "f2", "f1"]), ("ascending", ["f1", "f2", "f3"])):
        response = await tenants.a.get(
            "/Users",
            params={
                "filter": f"{VISITLY}:floor pr",
                "sortBy": f"{VISITLY}:floor",
                "sortOrder": order,
            },
        )
        assert [r["userName"] for r in response.json()["Resources"]] == [  # 10 after 5
            f"{name}@contoso.com" for name in expected
        ]
    searched = await tenants.a.post(
        "/Users/.search", json={"schemas": [SEARCH], "filter": f'{VISITLY}:site eq "Lyon"'}
    )
    assert [r["userName"] for r in searched.json()["Resources"]] == ["f3@contoso.com"]
    rooted = await tenants.a.post(
        "/.search", json={"schemas": [SEARCH], "filter": f'{VISITLY}:site eq "Lyon"'}
    )
    assert [r["userName"] for r in rooted.json()["Resources"]] == ["f3@contoso.com"]
    assert rooted.json()["Resources"][0]["schemas"] == [CORE_USER, VISITLY]


async def test_attributes_and_excluded_attributes_name_declared_ones(tenants: Tenants) -> None:
    user_id = await _create(tenants.a, "proj@contoso.com", site="Paris", floor=2)
    only = await tenants.a.get(f"/Users/{user_id}", params={"attributes": f"{VISITLY}:site"})
    assert only.json()[VISITLY] == {"site": "Paris"}
    assert "userName" not in only.json()
    whole = await tenants.a.get("/Users", params={"attributes": VISITLY})
    assert {"site": "Paris", "floor": 2} in [r.get(VISITLY) for r in whole.json()["Resources"]]
    without = await tenants.a.get(
        f"/Users/{user_id}", params={"excludedAttributes": f"{VISITLY}:floor"}
    )
    assert without.json()[VISITLY] == {"site": "Paris"}


async def test_bulk_creates_and_patches_with_declared_attributes(tenants: Tenants) -> None:
    body = {
        "schemas": [BULK],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "one",
                "data": _user("bulk@contoso.com", site="Rome"),
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:one",
                "data": _patch({"op": "replace", "path": f"{VISITLY}:floor", "value": 7}),
            },
        ],
    }
    response = await tenants.a.post("/Bulk", json=body)
    assert [op["status"] for op in response.json()["Operations"]] == ["201", "200"]
    assert await _listed(tenants.a, f"{VISITLY}:floor eq 7") == ["bulk@contoso.com"]


async def test_discovery_publishes_the_extension_to_its_tenant_only(tenants: Tenants) -> None:
    """A's /Schemas, /Schemas/{urn}, /ResourceTypes and /ResourceTypes/User carry it; B's
    answer exactly as a tenant with no declarations does."""
    schemas = (await tenants.a.get("/Schemas")).json()["Resources"]
    assert [s["id"] for s in schemas][-1] == VISITLY
    (visitly,) = [s for s in schemas if s["id"] == VISITLY]
    assert visitly["name"] == "Visitly"
    assert [
        (a["name"], a["type"], a["caseExact"], a["multiValued"]) for a in visitly["attributes"]
    ] == [
        ("site", "string", False, False),
        ("floor", "integer", False, False),
        ("badge", "boolean", False, False),
        ("badgeCode", "string", True, False),
    ]
    assert visitly["attributes"][0]["description"] == "The host's site"
    one = await tenants.a.get(f"/Schemas/{VISITLY}")
    assert one.status_code == 200 and one.json()["id"] == VISITLY
    user_type = (await tenants.a.get("/ResourceTypes/User")).json()
    assert user_type["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False},
        {"schema": VISITLY, "required": False},
    ]
    listed = (await tenants.a.get("/ResourceTypes")).json()["Resources"]
    assert listed[0]["schemaExtensions"] == user_type["schemaExtensions"]

    b_schemas = (await tenants.b.get("/Schemas")).json()["Resources"]
    assert VISITLY not in [s["id"] for s in b_schemas]
    assert len(b_schemas) == len(schemas) - 1
    assert_scim_error(await tenants.b.get(f"/Schemas/{VISITLY}"), 404)
    b_type = (await tenants.b.get("/ResourceTypes/User")).json()
    assert b_type["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert VISITLY not in (await tenants.b.get("/ResourceTypes")).text


async def test_another_tenant_sending_the_urn_gets_the_undeclared_behaviour(
    tenants: Tenants,
) -> None:
    """B never declared the URN: its object in a body is ignored (201 without it), a PATCH
    path naming it is 400 invalidPath, a filter 400 invalidFilter; A's users stay A's."""
    a_user = await _create(tenants.a, "mine@contoso.com", site="Paris")
    response = await tenants.b.post("/Users", json=_user("theirs@contoso.com", site="Paris"))
    assert response.status_code == 201, response.text
    b_user = response.json()
    assert VISITLY not in b_user and b_user["schemas"] == [CORE_USER]
    patched = await tenants.b.patch(
        f"/Users/{b_user['id']}",
        json=_patch({"op": "replace", "path": f"{VISITLY}:site", "value": "Lyon"}),
    )
    assert_scim_error(patched, 400)
    assert patched.json()["scimType"] == "invalidPath"
    filtered = await tenants.b.get("/Users", params={"filter": f'{VISITLY}:site eq "Paris"'})
    assert_scim_error(filtered, 400)
    assert filtered.json()["scimType"] == "invalidFilter"
    assert_scim_error(await tenants.b.get(f"/Users/{a_user}"), 404)
    assert await _listed(tenants.a, f'{VISITLY}:site eq "Paris"') == ["mine@contoso.com"]


async def test_changes_to_the_declarations_reach_the_next_request(tenants: Tenants) -> None:
    """With keys cached for five minutes: B declares, and its next request accepts the
    extension; A removes it, and its next request refuses the path and stops publishing,
    while the values A stored stay in its documents."""
    signal = key_signal_for(tenants.database.url)
    deadline = time.monotonic() + 10
    while signal.generation() is None:  # until it listens: credentials are cached from then on
        assert time.monotonic() < deadline, "the key signal never started"
        time.sleep(0.05)
    b_user = (await tenants.b.post("/Users", json=_user("late@contoso.com"))).json()["id"]
    assert (await tenants.a.get("/Users")).status_code == 200  # both credentials cached
    _declare(tenants.database, tenants.b_id, DeclaredAttribute("site"))
    patched = await tenants.b.patch(
        f"/Users/{b_user}",
        json=_patch({"op": "add", "path": f"{VISITLY}:site", "value": "Bern"}),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()[VISITLY] == {"site": "Bern"}

    a_user = await _create(tenants.a, "kept@contoso.com", site="Paris")
    with tenants.database.connect(write=True) as connection:
        remove_declaration(connection, tenants.a_id, VISITLY)
    refused = await tenants.a.patch(
        f"/Users/{a_user}",
        json=_patch({"op": "replace", "path": f"{VISITLY}:site", "value": "Lyon"}),
    )
    assert_scim_error(refused, 400)
    assert VISITLY not in [s["id"] for s in (await tenants.a.get("/Schemas")).json()["Resources"]]
    kept = (await tenants.a.get(f"/Users/{a_user}")).json()
    assert kept[VISITLY] == {"site": "Paris"}  # stored values stay
    assert kept["schemas"] == [CORE_USER]
    _declare(tenants.database, tenants.a_id)
    again = (await tenants.a.get(f"/Users/{a_user}")).json()
    assert again["schemas"] == [CORE_USER, VISITLY]


async def test_a_tenants_registry_is_read_once_per_version(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenant that declares nothing is never looked up; a declaring tenant's registry is
    read once, then served from the process's cache until its version moves."""
    reads: list[str] = []
    original = TenantRegistries.load

    def counted(self: TenantRegistries, tenant_id: str) -> Any:
        reads.append(tenant_id)
        return original(self, tenant_id)

    monkeypatch.setattr(TenantRegistries, "load", counted)
    a_id, a_key = _tenant(database, "Reads")
    b_id, b_key = _tenant(database, "No reads")
    _declare(database, a_id)
    app = create_app(CACHED, database)
    async with client_for(app, a_key) as a, client_for(app, b_key) as b:
        for _ in range(3):
            assert (await a.get("/Users")).status_code == 200
            assert (await b.get("/Users")).status_code == 200
            assert (await a.get("/Schemas")).status_code == 200
        assert reads == [a_id]
        _declare(database, a_id, DeclaredAttribute("extra"))
        for _ in range(2):
            assert (await a.get("/Users")).status_code == 200
        assert reads == [a_id, a_id]
    registries = TenantRegistries(database)
    assert registries.cached(Credential(b_id, "k", None)) is DEFAULT_REGISTRY
    assert registries.cached(Credential(a_id, "k", None, 2)) is None
    loaded = registries.load(a_id)
    assert registries.cached(Credential(a_id, "k", None, 2)) is loaded
    assert [s.id for s in loaded.declared] == [VISITLY]
