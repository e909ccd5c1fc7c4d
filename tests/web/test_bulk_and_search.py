"""/Bulk (RFC 7644 §3.7) and the root /.search (RFC 7644 §3.4.3)."""

from __future__ import annotations

import httpx

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def test_bulk_with_bulk_id_references(client: httpx.AsyncClient) -> None:
    """A group created in the same request can reference users by bulkId."""
    response = await client.post(
        "/Bulk",
        json={
            "schemas": [BULK],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "u1",
                    "data": {"userName": "bulk1@contoso.com"},
                },
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "u2",
                    "data": {"userName": "bulk2@contoso.com"},
                },
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "g1",
                    "data": {
                        "displayName": "Bulk",
                        "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}],
                    },
                },
                {
                    "method": "PATCH",
                    "path": "/Users/bulkId:u2",
                    "data": {
                        "schemas": [PATCH_OP],
                        "Operations": [{"op": "replace", "path": "title", "value": "T"}],
                    },
                },
            ],
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "201", "200"]
    assert results[0]["location"].endswith("/Users/" + results[0]["location"].rsplit("/", 1)[1])
    group_id = results[2]["location"].rsplit("/", 1)[1]
    group = (await client.get(f"/Groups/{group_id}")).json()
    user_ids = {r["location"].rsplit("/", 1)[1] for r in results[:2]}
    assert {m["value"] for m in group["members"]} == user_ids
    u2 = results[1]["location"].rsplit("/", 1)[1]
    assert (await client.get(f"/Users/{u2}")).json()["title"] == "T"


async def test_bulk_failure_is_isolated_and_fail_on_errors_stops(client: httpx.AsyncClient) -> None:
    """A failing operation leaves no trace; failOnErrors stops after that many errors."""
    response = await client.post(
        "/Bulk",
        json={
            "schemas": [BULK],
            "failOnErrors": 1,
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "a",
                    "data": {"userName": "dupe@contoso.com"},
                },
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "b",
                    "data": {"userName": "DUPE@contoso.com"},
                },
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "c",
                    "data": {"userName": "never@contoso.com"},
                },
            ],
        },
    )
    assert response.status_code == 200
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "409"]
    assert results[1]["response"]["scimType"] == "uniqueness"
    listed = await client.get("/Users", params={"filter": 'userName eq "never@contoso.com"'})
    assert listed.json()["totalResults"] == 0


async def test_bulk_limits_and_shape(client: httpx.AsyncClient) -> None:
    """More operations than maxOperations is 413; a missing schema is 400; bad paths fail alone."""
    too_many = {"schemas": [BULK], "Operations": [{"method": "DELETE", "path": "/Users/x"}] * 1001}
    assert (await client.post("/Bulk", json=too_many)).status_code == 413
    assert (await client.post("/Bulk", json={"Operations": []})).status_code == 400
    mixed = await client.post(
        "/Bulk",
        json={
            "schemas": [BULK],
            "Operations": [
                {"method": "DELETE", "path": "/Users/nope"},
                {"method": "GET", "path": "/Users"},
                {"method": "POST", "path": "/Nowhere", "bulkId": "x", "data": {}},
                {"method": "POST", "path": "/Users", "data": {"userName": "no-bulk-id"}},
                {"method": "PATCH", "path": "/Users/bulkId:missing", "data": {}},
            ],
        },
    )
    assert [r["status"] for r in mixed.json()["Operations"]] == ["404", "405", "404", "400", "400"]


async def test_root_search_spans_users_and_groups(client: httpx.AsyncClient) -> None:
    """POST /.search returns users then groups, paged as one list."""
    await client.post(
        "/Users", json={"userName": "root-search@contoso.com", "displayName": "Shared Name"}
    )
    await client.post("/Groups", json={"displayName": "Shared Name"})
    response = await client.post(
        "/.search", json={"schemas": [SEARCH], "filter": 'displayName eq "shared name"'}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["totalResults"] == 2
    assert [r["meta"]["resourceType"] for r in body["Resources"]] == ["User", "Group"]
    second = await client.post(
        "/.search",
        json={
            "schemas": [SEARCH],
            "filter": 'displayName eq "shared name"',
            "startIndex": 2,
            "count": 1,
        },
    )
    assert [r["meta"]["resourceType"] for r in second.json()["Resources"]] == ["Group"]
    only_users = await client.post(
        "/.search", json={"schemas": [SEARCH], "filter": 'userName eq "root-search@contoso.com"'}
    )
    assert only_users.json()["totalResults"] == 1
    bad = await client.post("/.search", json={"schemas": [SEARCH], "filter": 'nosuch eq "x"'})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"


async def test_conflicts_leave_the_live_counts_right(client: httpx.AsyncClient) -> None:
    """A 409 alone and one inside /Bulk undo their count with their insert, on each backend.

    ``totalResults`` of an unfiltered list is the tenant's kept count of live users and
    groups; PostgreSQL rolls a conflicting insert back with its transaction or savepoint.
    """
    assert (await client.post("/Users", json={"userName": "kept@contoso.com"})).status_code == 201
    taken = await client.post("/Users", json={"userName": "KEPT@contoso.com"})
    assert taken.status_code == 409
    assert (await client.post("/Groups", json={"displayName": "Desk"})).status_code == 201
    assert (await client.post("/Groups", json={"displayName": "Desk"})).status_code == 409
    posts = [
        ("/Users", {"userName": "a@contoso.com"}),
        ("/Users", {"userName": "kept@contoso.com"}),
        ("/Groups", {"displayName": "Desk"}),
        ("/Users", {"userName": "c@contoso.com"}),
    ]
    operations = [
        {"method": "POST", "path": path, "bulkId": f"op{number}", "data": data}
        for number, (path, data) in enumerate(posts)
    ]
    bulk = await client.post("/Bulk", json={"schemas": [BULK], "Operations": operations})
    assert bulk.status_code == 200
    statuses = [int(result["status"]) for result in bulk.json()["Operations"]]
    assert statuses == [201, 409, 409, 201]
    users = (await client.get("/Users", params={"count": 0})).json()["totalResults"]
    groups = (await client.get("/Groups", params={"count": 0})).json()["totalResults"]
    listed = (await client.get("/Users", params={"count": 100})).json()["Resources"]
    assert (users, groups, len(listed)) == (3, 1, 3)
