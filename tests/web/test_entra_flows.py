"""The request shapes Microsoft Entra ID sends, end to end (docs/reference/entra-wire.md)."""

from __future__ import annotations

import uuid

import httpx

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json; charset=utf-8"


def entra_user(
    user_name: str = "Test_User_00aa00aa@contoso.com", **extra: object
) -> dict[str, object]:
    """The POST /Users body of docs/reference/entra-wire.md#wire-create-user."""
    body: dict[str, object] = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "Test_User_11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
    }
    body.update(extra)
    return body


def patch(*operations: dict[str, object]) -> dict[str, object]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def create_user(client: httpx.AsyncClient, **extra: object) -> dict[str, object]:
    user_name = extra.pop("userName", f"user-{uuid.uuid4().hex[:8]}@contoso.com")
    response = await client.post("/Users", json=entra_user(str(user_name), **extra))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_test_connection_probe_answers_empty_list(client: httpx.AsyncClient) -> None:
    """A random-GUID userName filter, no Accept header, gives 200 and an empty list.

    docs/reference/entra-wire.md#wire-test-connection
    """
    guid = str(uuid.uuid4())
    response = await client.get(f"/Users?filter=userName+eq+%22{guid}%22", headers={"Accept": ""})
    assert response.status_code == 200
    assert response.headers["content-type"] == SCIM_JSON
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["totalResults"] == 0
    assert body["Resources"] == []
    groups = await client.get(
        f"/Groups?excludedAttributes=members&filter=displayName+eq+%22{guid}%22"
    )
    assert groups.status_code == 200
    assert groups.json()["totalResults"] == 0


async def test_create_user_returns_201_with_location_and_etag(client: httpx.AsyncClient) -> None:
    """201 Created, the id, Location, meta, values as sent; client meta and roles ignored.

    docs/reference/entra-wire.md#wire-create-user
    """
    response = await client.post("/Users", json=entra_user())
    assert response.status_code == 201
    body = response.json()
    assert body["id"]
    assert response.headers["location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"/v1/usersync/SCIM/Users/{body['id']}")
    assert response.headers["etag"] == body["meta"]["version"]
    assert body["userName"] == "Test_User_00aa00aa@contoso.com"
    assert body["name"]["formatted"] == "givenName familyName"
    assert body["emails"] == [
        {"primary": True, "type": "work", "value": "Test_User_11bb@testuser.com"}
    ]
    assert body["active"] is True
    assert body["meta"]["resourceType"] == "User"
    assert "roles" not in body


async def test_create_accepts_nulls_and_typoed_schema_urn(client: httpx.AsyncClient) -> None:
    """JSON nulls mean absent; an unknown schema URN in ``schemas`` is accepted.

    docs/reference/entra-wire.md#wire-create-user-tolerance
    """
    response = await client.post(
        "/Users",
        json={
            "schemas": [CORE_USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "userName": "nulls@contoso.com",
            "addresses": None,
            "phoneNumbers": None,
            "title": None,
            "department": None,
            "manager": None,
            "active": "True",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert "title" not in body and "addresses" not in body
    assert body["active"] is True


async def test_duplicate_username_differing_in_case_is_409(client: httpx.AsyncClient) -> None:
    """Validator test 2: a second POST of the same userName (any case) is 409 uniqueness."""
    await create_user(client, userName="Dup@Contoso.com")
    response = await client.post("/Users", json=entra_user("dup@contoso.COM"))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert response.json()["status"] == "409"


async def test_filter_username_is_case_insensitive_and_externalid_exact(
    client: httpx.AsyncClient,
) -> None:
    """userName matches in any case; externalId is caseExact.

    docs/reference/entra-wire.md#wire-filter-case
    """
    user = await create_user(client, userName="Mixed.Case@Contoso.com", externalId="AbC-1")
    found = await client.get('/Users?filter=userName eq "mixed.case@contoso.com"')
    assert [r["id"] for r in found.json()["Resources"]] == [user["id"]]
    exact = await client.get('/Users?filter=externalId eq "AbC-1"')
    assert exact.json()["totalResults"] == 1
    wrong_case = await client.get('/Users?filter=externalId eq "abc-1"')
    assert wrong_case.json()["totalResults"] == 0
    unquoted = await client.get("/Users?filter=externalId eq AbC-1")
    assert unquoted.json()["totalResults"] == 1


async def test_patch_legacy_dialect_replace_multiple(client: httpx.AsyncClient) -> None:
    """Without the flag: one capitalised op per attribute, each with a path.

    docs/reference/entra-wire.md#dialect-replace-many
    """
    user = await create_user(client)
    response = await client.patch(
        f"/Users/{user['id']}",
        json=patch(
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "TestBcwqnm@test.microsoft.com",
            },
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Eqpj"},
        ),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["displayName"] == "Pvlo"
    assert body["emails"][0]["value"] == "TestBcwqnm@test.microsoft.com"
    assert body["name"]["givenName"] == "Gtfd" and body["name"]["familyName"] == "Pkqf"
    assert body["name"]["formatted"] == "givenName familyName"
    assert body["externalId"] == "Eqpj"
    assert body[ENTERPRISE]["employeeNumber"] == "Eqpj"
    assert ENTERPRISE in body["schemas"]


async def test_patch_flagged_dialect_pathless_dotted_keys(client: httpx.AsyncClient) -> None:
    """With aadOptscim062020: one path-less replace whose keys are attribute paths.

    docs/reference/entra-wire.md#dialect-replace-many
    """
    user = await create_user(client)
    response = await client.patch(
        f"/Users/{user['id']}?aadOptscim062020",
        json=patch(
            {
                "op": "replace",
                "path": 'emails[type eq "work"].value',
                "value": "TestMhvaes@test.microsoft.com",
            },
            {
                "op": "replace",
                "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    f"{ENTERPRISE}:employeeNumber": "Aklq",
                },
            },
        ),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"]["givenName"] == "Kkom"
    assert "name.givenName" not in body
    assert body[ENTERPRISE]["employeeNumber"] == "Aklq"
    again = await client.get(f"/Users/{user['id']}")
    assert again.json()["displayName"] == "Bjfe"


async def test_disable_with_string_false_then_visible_to_get_and_filter(
    client: httpx.AsyncClient,
) -> None:
    """The string "False" disables; the inactive user stays visible to GET and filters.

    docs/reference/entra-wire.md#dialect-disable
    docs/reference/entra-wire.md#wire-inactive-visible
    """
    user = await create_user(client, userName="disable.me@contoso.com")
    response = await client.patch(
        f"/Users/{user['id']}", json=patch({"op": "Replace", "path": "active", "value": "False"})
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    got = await client.get(f"/Users/{user['id']}")
    assert got.json()["active"] is False
    found = await client.get('/Users?filter=userName eq "disable.me@contoso.com"')
    assert found.json()["totalResults"] == 1
    assert found.json()["Resources"][0]["active"] is False
    restored = await client.patch(
        f"/Users/{user['id']}", json=patch({"op": "replace", "value": {"active": "True"}})
    )
    assert restored.json()["active"] is True


async def test_manager_set_as_string_object_and_array_then_cleared(
    client: httpx.AsyncClient,
) -> None:
    """The manager id as a string, an object or an array; "" clears it.

    docs/reference/entra-wire.md#patch-p9 to docs/reference/entra-wire.md#patch-p13
    """
    boss = await create_user(client)
    other = await create_user(client)
    user = await create_user(client)
    path = f"{ENTERPRISE}:manager"
    r = await client.patch(
        f"/Users/{user['id']}", json=patch({"op": "Add", "path": path, "value": boss["id"]})
    )
    assert r.json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    r = await client.patch(
        f"/Users/{user['id']}",
        json=patch({"op": "replace", "path": path, "value": {"value": other["id"]}}),
    )
    assert r.json()[ENTERPRISE]["manager"]["value"] == other["id"]
    r = await client.patch(
        f"/Users/{user['id']}",
        json=patch(
            {"op": "Add", "path": "manager", "value": [{"$ref": None, "value": boss["id"]}]}
        ),
    )
    assert r.json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    r = await client.patch(
        f"/Users/{user['id']}", json=patch({"op": "replace", "path": path, "value": ""})
    )
    assert r.status_code == 200
    assert ENTERPRISE not in r.json()
    filtered = await client.get(
        f'/Users?filter=id eq "{user["id"]}" and manager eq "{boss["id"]}"&attributes=id'
    )
    assert filtered.json()["totalResults"] == 0


async def test_replace_on_missing_filtered_entry_creates_it(client: httpx.AsyncClient) -> None:
    """Replace of phoneNumbers[type eq "mobile"].value with none present adds it.

    docs/reference/entra-wire.md#patch-p6
    """
    user = await create_user(client)
    r = await client.patch(
        f"/Users/{user['id']}",
        json=patch(
            {
                "op": "Replace",
                "path": 'phoneNumbers[type eq "mobile"].value',
                "value": "+1 512 555 0199",
            }
        ),
    )
    assert r.status_code == 200
    assert r.json()["phoneNumbers"] == [{"type": "mobile", "value": "+1 512 555 0199"}]


async def test_patch_is_atomic(client: httpx.AsyncClient) -> None:
    """A failing operation leaves the user exactly as it was.

    docs/reference/entra-wire.md#patch-rule-3
    """
    user = await create_user(client)
    r = await client.patch(
        f"/Users/{user['id']}",
        json=patch(
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "Replace", "path": "noSuchAttribute", "value": "x"},
        ),
    )
    assert r.status_code == 400
    assert r.json()["scimType"] == "invalidPath"
    after = await client.get(f"/Users/{user['id']}")
    assert "displayName" not in after.json()
    assert after.json()["meta"]["version"] == user["meta"]["version"]


async def test_delete_is_soft_then_404_and_name_reusable(client: httpx.AsyncClient) -> None:
    """204, then 404 everywhere, absent from filters; the userName is free again.

    docs/reference/entra-wire.md#wire-delete-user
    """
    user = await create_user(client, userName="leaver@contoso.com")
    assert (await client.delete(f"/Users/{user['id']}")).status_code == 204
    assert (await client.get(f"/Users/{user['id']}")).status_code == 404
    assert (await client.delete(f"/Users/{user['id']}")).status_code == 404
    patched = await client.patch(
        f"/Users/{user['id']}", json=patch({"op": "replace", "path": "active", "value": False})
    )
    assert patched.status_code == 404
    listed = await client.get('/Users?filter=userName eq "leaver@contoso.com"')
    assert listed.json()["totalResults"] == 0
    again = await client.post("/Users", json=entra_user("leaver@contoso.com"))
    assert again.status_code == 201
    assert again.json()["id"] != user["id"]


async def test_group_lifecycle_entra_shapes(client: httpx.AsyncClient) -> None:
    """Create empty, add members, remove (legacy and filtered), rename, delete.

    docs/reference/entra-wire.md#wire-groups
    """
    alice = await create_user(client)
    bob = await create_user(client)
    created = await client.post(
        "/Groups",
        json={
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
            ],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Front Desk",
            "meta": {"resourceType": "Group"},
        },
    )
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["members"] == []
    gid = group["id"]
    add = await client.patch(
        f"/Groups/{gid}",
        json=patch(
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": alice["id"]}, {"value": bob["id"]}],
            }
        ),
    )
    assert add.status_code == 200, add.text
    assert len(add.json()["members"]) == 2
    full = await client.get(f"/Groups/{gid}")
    assert sorted(m["value"] for m in full.json()["members"]) == sorted([alice["id"], bob["id"]])
    no_members = await client.get(f"/Groups/{gid}?excludedAttributes=members")
    assert "members" not in no_members.json()
    by_name = await client.get(
        '/Groups?excludedAttributes=members&filter=displayName eq "front desk"'
    )
    assert by_name.json()["totalResults"] == 1
    assert "members" not in by_name.json()["Resources"][0]
    legacy_remove = await client.patch(
        f"/Groups/{gid}",
        json=patch(
            {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": alice["id"]}]}
        ),
    )
    assert legacy_remove.status_code == 200
    members = (await client.get(f"/Groups/{gid}")).json()["members"]
    assert [m["value"] for m in members] == [bob["id"]]
    filtered_remove = await client.patch(
        f"/Groups/{gid}", json=patch({"op": "remove", "path": f'members[value eq "{bob["id"]}"]'})
    )
    assert filtered_remove.status_code == 200
    assert (await client.get(f"/Groups/{gid}")).json()["members"] == []
    renamed = await client.patch(
        f"/Groups/{gid}", json=patch({"op": "Replace", "path": "displayName", "value": "Reception"})
    )
    assert renamed.json()["displayName"] == "Reception"
    assert (await client.delete(f"/Groups/{gid}")).status_code == 204
    assert (await client.get(f"/Groups/{gid}")).status_code == 404


async def test_user_groups_attribute_lists_memberships(client: httpx.AsyncClient) -> None:
    """RFC 7643 §4.1.2: a user's read-only ``groups`` shows its direct groups."""
    user = await create_user(client)
    group = (
        await client.post(
            "/Groups", json={"displayName": "Hosts", "members": [{"value": user["id"]}]}
        )
    ).json()
    got = (await client.get(f"/Users/{user['id']}")).json()
    assert [g["value"] for g in got["groups"]] == [group["id"]]
    assert got["groups"][0]["display"] == "Hosts"
    member_filter = await client.get(f'/Groups?filter=members eq "{user["id"]}"')
    assert member_filter.json()["totalResults"] == 1


async def test_locations_follow_each_requests_host(client: httpx.AsyncClient) -> None:
    created = (await client.post("/Users", json=entra_user("host.header@contoso.com"))).json()
    path = f"/v1/usersync/SCIM/Users/{created['id']}"
    for host in ("hosts.example", "other.example:8443", "hosts.example"):
        response = await client.get(f"/Users/{created['id']}", headers={"Host": host})
        assert response.json()["meta"]["location"] == f"http://{host}{path}"
    listed = await client.get("/Users", headers={"Host": "third.example"})
    assert {r["meta"]["location"].split("/v1/")[0] for r in listed.json()["Resources"]} == {
        "http://third.example"
    }
