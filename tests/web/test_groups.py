"""Groups beyond Entra's shapes: PUT, member replacement, big-group PATCH responses."""

from __future__ import annotations

import httpx

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def users(client: httpx.AsyncClient, count: int) -> list[str]:
    ids = []
    for index in range(count):
        response = await client.post("/Users", json={"userName": f"member{index}@contoso.com"})
        ids.append(response.json()["id"])
    return ids


async def test_put_replaces_attributes_and_members(client: httpx.AsyncClient) -> None:
    """PUT sets displayName, externalId and exactly the listed members."""
    a, b, c = await users(client, 3)
    group = (
        await client.post(
            "/Groups", json={"displayName": "G", "members": [{"value": a}, {"value": b}]}
        )
    ).json()
    replaced = await client.put(
        f"/Groups/{group['id']}",
        json={
            "displayName": "G2",
            "externalId": "ext",
            "members": [{"value": c, "display": "Cee"}],
        },
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["displayName"] == "G2" and body["externalId"] == "ext"
    assert [(m["value"], m.get("display")) for m in body["members"]] == [(c, "Cee")]


async def test_patch_replace_and_clear_members_in_order(client: httpx.AsyncClient) -> None:
    """P16 replace sets exactly; P19 add then remove of the same member leaves it out."""
    a, b = await users(client, 2)
    group = (
        await client.post("/Groups", json={"displayName": "Ordered", "members": [{"value": a}]})
    ).json()
    gid = group["id"]
    ops = [
        {"op": "replace", "path": "members", "value": [{"value": b}]},
        {"op": "add", "path": "members", "value": [{"value": a}]},
        {"op": "remove", "path": f'members[value eq "{a}"]'},
    ]
    response = await client.patch(f"/Groups/{gid}", json={"schemas": [PATCH_OP], "Operations": ops})
    assert response.status_code == 200
    assert [m["value"] for m in response.json()["members"]] == [b]
    cleared = await client.patch(
        f"/Groups/{gid}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]},
    )
    assert cleared.json()["members"] == []
    assert cleared.json()["meta"]["version"] != group["meta"]["version"]


async def test_duplicate_display_name_is_409_and_freed_by_delete(client: httpx.AsyncClient) -> None:
    """Group displayName is unique per tenant, case-insensitively, until the group is deleted."""
    first = (await client.post("/Groups", json={"displayName": "Visitors"})).json()
    dupe = await client.post("/Groups", json={"displayName": "VISITORS"})
    assert dupe.status_code == 409 and dupe.json()["scimType"] == "uniqueness"
    assert (await client.delete(f"/Groups/{first['id']}")).status_code == 204
    assert (await client.post("/Groups", json={"displayName": "VISITORS"})).status_code == 201


async def test_big_group_patch_answers_without_members(database: Database, api_key: str) -> None:
    """Above inline_members_max a PATCH answers without members unless attributes asks."""
    app = create_app(Settings(key_cache_seconds=0, inline_members_max=2), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver/v1/usersync/SCIM",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as client:
        ids = await users(client, 4)
        group = (
            await client.post(
                "/Groups", json={"displayName": "Big", "members": [{"value": i} for i in ids[:3]]}
            )
        ).json()
        body = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[3]}]}],
        }
        response = await client.patch(f"/Groups/{group['id']}", json=body)
        assert response.status_code == 200
        assert "members" not in response.json()
        asked = await client.patch(f"/Groups/{group['id']}?attributes=members", json=body)
        assert len(asked.json()["members"]) == 4
        full = await client.get(f"/Groups/{group['id']}")
        assert len(full.json()["members"]) == 4


async def test_deleted_user_leaves_its_groups(client: httpx.AsyncClient) -> None:
    """A soft-deleted user is no longer listed as a member."""
    (a,) = await users(client, 1)
    group = (
        await client.post("/Groups", json={"displayName": "Leavers", "members": [{"value": a}]})
    ).json()
    await client.delete(f"/Users/{a}")
    assert (await client.get(f"/Groups/{group['id']}")).json()["members"] == []
