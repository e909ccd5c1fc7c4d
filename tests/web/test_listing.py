"""Filters compiled to SQL, sorting, paging, projection and search (RFC 7644 §3.4)."""

from __future__ import annotations

import httpx
import pytest

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

PEOPLE = [
    {
        "userName": "ana@contoso.com",
        "displayName": "Ana Lopez",
        "title": "Receptionist",
        "emails": [{"type": "work", "value": "ana@contoso.com", "primary": True}],
        ENTERPRISE: {"department": "Front Desk", "employeeNumber": "1001"},
    },
    {
        "userName": "bo@fabrikam.com",
        "displayName": "Bo Chen",
        "title": "Engineer",
        "emails": [{"type": "home", "value": "bo@example.org"}],
        "active": False,
        ENTERPRISE: {"department": "R&D"},
    },
    {
        "userName": "cy@contoso.com",
        "displayName": "Cy O'Malley",
        "nickName": "100%;--",
        "emails": [{"type": "work", "value": "cy@example.com"}],
    },
]


@pytest.fixture
async def people(client: httpx.AsyncClient) -> dict[str, str]:
    ids = {}
    for person in PEOPLE:
        response = await client.post("/Users", json=person)
        assert response.status_code == 201, response.text
        ids[person["userName"]] = response.json()["id"]
    return ids


async def names(client: httpx.AsyncClient, filter_: str, **params: str) -> list[str]:
    response = await client.get("/Users", params={"filter": filter_, **params})
    assert response.status_code == 200, response.text
    return sorted(r["userName"] for r in response.json()["Resources"])


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ('userName sw "ANA"', ["ana@contoso.com"]),
        ('userName ew "contoso.com"', ["ana@contoso.com", "cy@contoso.com"]),
        ('userName co "fabrikam"', ["bo@fabrikam.com"]),
        ('userName ne "ana@contoso.com"', ["bo@fabrikam.com", "cy@contoso.com"]),
        ('userName gt "b"', ["bo@fabrikam.com", "cy@contoso.com"]),
        ("title pr", ["ana@contoso.com", "bo@fabrikam.com"]),
        ("not (title pr)", ["cy@contoso.com"]),
        ('title eq "engineer" or displayName co "malley"', ["bo@fabrikam.com", "cy@contoso.com"]),
        ("active eq false", ["bo@fabrikam.com"]),
        ('active eq "True"', ["ana@contoso.com", "cy@contoso.com"]),
        ('emails[type eq "work" and value co "example.com"]', ["cy@contoso.com"]),
        ('emails[type eq "work"].value eq "ana@contoso.com"', ["ana@contoso.com"]),
        ('emails.value co "example.org"', ["bo@fabrikam.com"]),
        ('emails co "EXAMPLE"', ["bo@fabrikam.com", "cy@contoso.com"]),
        (f'{ENTERPRISE}:department eq "front desk"', ["ana@contoso.com"]),
        (f"{ENTERPRISE}:employeeNumber pr", ["ana@contoso.com"]),
        ('nickName eq "100%;--"', ["cy@contoso.com"]),
        ('displayName eq "Cy O\'Malley"', ["cy@contoso.com"]),
        ('displayName co "%"', []),
        (
            'meta.created gt "2000-01-01T00:00:00Z"',
            ["ana@contoso.com", "bo@fabrikam.com", "cy@contoso.com"],
        ),
        ("meta.lastModified lt 2000-01-01T00:00:00.1234567-07:00", []),
        ('meta.resourceType eq "User"', ["ana@contoso.com", "bo@fabrikam.com", "cy@contoso.com"]),
        ('(userName sw "a" or userName sw "b") and not (active eq false)', ["ana@contoso.com"]),
        ('UserName Eq "ana@contoso.com"', ["ana@contoso.com"]),
    ],
)
async def test_filter_selects_exactly(
    client: httpx.AsyncClient, people: dict[str, str], filter_: str, expected: list[str]
) -> None:
    """Each RFC 7644 §3.4.2.2 form selects exactly the matching users."""
    assert await names(client, filter_) == expected


async def test_paging_counts_and_windows(client: httpx.AsyncClient, people: dict[str, str]) -> None:
    """startIndex/count window the list; totalResults counts all; count=0 gives only the total."""
    page = (await client.get("/Users", params={"startIndex": 2, "count": 1})).json()
    assert page["totalResults"] == 3
    assert page["startIndex"] == 2
    assert page["itemsPerPage"] == 1
    assert len(page["Resources"]) == 1
    only_total = (await client.get("/Users", params={"count": 0})).json()
    assert only_total["totalResults"] == 3 and only_total["Resources"] == []
    beyond = (await client.get("/Users", params={"startIndex": 10})).json()
    assert beyond["Resources"] == [] and beyond["totalResults"] == 3
    clamped = (await client.get("/Users", params={"startIndex": -5, "count": 5000})).json()
    assert clamped["startIndex"] == 1 and len(clamped["Resources"]) == 3
    bad = await client.get("/Users", params={"count": "many"})
    assert bad.status_code == 400


@pytest.mark.parametrize("resource", ["/Users", "/Groups"])
@pytest.mark.parametrize("filtered", [False, True])
async def test_a_start_index_past_any_database_integer_gives_an_empty_page(
    client: httpx.AsyncClient, people: dict[str, str], resource: str, filtered: bool
) -> None:
    """A startIndex beyond 2^63 (no SQL integer holds it) is past the end, not a 500; the
    response says the page starts at 2^63, as it says 1 for a startIndex below 1."""
    start = 2**89 + 7  # found by schemathesis: 489082374274724385949483008 gave a 500
    params: dict[str, str | int] = {"startIndex": start, "count": 5}
    if filtered:
        params["filter"] = "meta.created pr" if resource == "/Users" else "displayName pr"
    response = await client.get(resource, params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["Resources"] == [] and page["startIndex"] == 2**63
    assert page["totalResults"] == (3 if resource == "/Users" else 0)


async def test_sort_by_and_order(client: httpx.AsyncClient, people: dict[str, str]) -> None:
    """sortBy/sortOrder order the results; absent values sort last when ascending."""
    up = (await client.get("/Users", params={"sortBy": "title"})).json()
    assert [r["userName"] for r in up["Resources"]] == [
        "bo@fabrikam.com",
        "ana@contoso.com",
        "cy@contoso.com",
    ]
    down = (
        await client.get("/Users", params={"sortBy": "userName", "sortOrder": "descending"})
    ).json()
    assert [r["userName"] for r in down["Resources"]] == [
        "cy@contoso.com",
        "bo@fabrikam.com",
        "ana@contoso.com",
    ]
    bad = await client.get("/Users", params={"sortBy": "nosuch"})
    assert bad.status_code == 400


async def test_attributes_projection(client: httpx.AsyncClient, people: dict[str, str]) -> None:
    """attributes keeps only what is named (plus id, schemas); excludedAttributes drops."""
    only = (
        await client.get(
            "/Users",
            params={
                "attributes": "userName,emails.value",
                "filter": 'userName eq "ana@contoso.com"',
            },
        )
    ).json()
    (resource,) = only["Resources"]
    assert set(resource) == {"schemas", "id", "userName", "emails"}
    assert resource["emails"] == [{"value": "ana@contoso.com"}]
    dropped = (
        await client.get(
            f"/Users/{people['ana@contoso.com']}",
            params={"excludedAttributes": f"title,{ENTERPRISE}:department"},
        )
    ).json()
    assert "title" not in dropped
    assert dropped[ENTERPRISE] == {"employeeNumber": "1001"}
    assert dropped["id"] == people["ana@contoso.com"]


async def test_post_search(client: httpx.AsyncClient, people: dict[str, str]) -> None:
    """POST /Users/.search takes the same parameters in a SearchRequest body."""
    response = await client.post(
        "/Users/.search",
        json={
            "schemas": [SEARCH],
            "filter": 'userName sw "c"',
            "attributes": ["userName"],
            "count": 10,
        },
    )
    assert response.status_code == 200, response.text
    assert [r["userName"] for r in response.json()["Resources"]] == ["cy@contoso.com"]
    missing_schema = await client.post("/Users/.search", json={"filter": 'userName sw "c"'})
    assert missing_schema.status_code == 400


async def test_tenants_never_see_each_other(
    client: httpx.AsyncClient, people: dict[str, str], database, settings
) -> None:  # type: ignore[no-untyped-def]
    """Another tenant's key sees none of these users: lists are empty and ids are 404."""
    from hostsync.store.tenants import create_key, create_tenant
    from hostsync.web.app import create_app

    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam")
        _, key = create_key(connection, other.id, "other")
    app = create_app(settings, database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=str(client.base_url),
        headers={"Authorization": f"Bearer {key}"},
    ) as intruder:
        assert (await intruder.get("/Users")).json()["totalResults"] == 0
        ana = people["ana@contoso.com"]
        assert (await intruder.get(f"/Users/{ana}")).status_code == 404
        assert (await intruder.delete(f"/Users/{ana}")).status_code == 404
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "x"}],
        }
        assert (await intruder.patch(f"/Users/{ana}", json=patch)).status_code == 404
        same_name = await intruder.post("/Users", json={"userName": "ana@contoso.com"})
        assert same_name.status_code == 201
        group = await intruder.post(
            "/Groups", json={"displayName": "G", "members": [{"value": ana}]}
        )
        assert group.status_code == 400  # issue 18: members belong to the caller's tenant
        assert group.json()["scimType"] == "invalidValue"
    assert (await client.get(f"/Users/{people['ana@contoso.com']}")).json().get(
        "title"
    ) == "Receptionist"
