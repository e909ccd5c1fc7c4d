"""Issue 18, item 7: a list of groups renders members only of groups within
``inline_members_max``; a bigger group is listed without ``members``, asked for or not (GET
/Groups, POST /Groups/.search, the root /.search), and read in full by its id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIMIT = 2


@pytest.fixture
async def bounded(database: Database, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that inlines at most two members a group."""
    app = create_app(Settings(key_cache_seconds=0, inline_members_max=LIMIT), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://testserver{SCIM_PREFIX}",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as client:
        yield client


async def _groups(client: httpx.AsyncClient) -> dict[str, str]:
    """Groups "Big" (3 members), "Small" (2) and "Empty" (0); name -> id."""
    ids = []
    for index in range(3):
        created = await client.post("/Users", json={"userName": f"m{index}@bound.example"})
        ids.append(created.json()["id"])
    made = {}
    for name, members in (("Big", ids), ("Small", ids[:2]), ("Empty", [])):
        created = await client.post(
            "/Groups", json={"displayName": name, "members": [{"value": i} for i in members]}
        )
        assert created.status_code == 201, created.text
        made[name] = created.json()["id"]
    return made


def _by_name(
    resources: list[dict[str, object]], made: dict[str, str]
) -> dict[str, dict[str, object]]:
    by_id = {str(r["id"]): r for r in resources}
    return {name: by_id[group_id] for name, group_id in made.items()}


@pytest.mark.parametrize("attributes", [None, "members", "displayName,members"])
@pytest.mark.parametrize("how", ["GET /Groups", "POST /Groups/.search", "POST /.search"])
async def test_a_listed_group_above_the_bound_has_no_members(
    bounded: httpx.AsyncClient, how: str, attributes: str | None
) -> None:
    """Groups with more than inline_members_max members are listed without ``members``
    (asked for or not); smaller ones with theirs; an empty one with ``[]``."""
    made = await _groups(bounded)
    if how == "GET /Groups":
        params = {} if attributes is None else {"attributes": attributes}
        response = await bounded.get("/Groups", params=params)
    else:
        body: dict[str, object] = {"schemas": [SEARCH], "filter": "displayName pr"}
        if attributes is not None:
            body["attributes"] = attributes.split(",")
        path = "/Groups/.search" if how == "POST /Groups/.search" else "/.search"
        response = await bounded.post(path, json=body)
    assert response.status_code == 200, response.text
    listed = _by_name(response.json()["Resources"], made)
    assert "members" not in listed["Big"]
    assert len(listed["Small"]["members"]) == 2  # type: ignore[arg-type]
    assert listed["Empty"]["members"] == []
    whole = await bounded.get(f"/Groups/{made['Big']}")
    assert len(whole.json()["members"]) == 3


async def test_entra_group_lookups_are_unchanged(bounded: httpx.AsyncClient) -> None:
    """Entra's lookup (displayName eq, excludedAttributes=members) never carries members."""
    made = await _groups(bounded)
    response = await bounded.get(
        "/Groups", params={"filter": 'displayName eq "Big"', "excludedAttributes": "members"}
    )
    (found,) = response.json()["Resources"]
    assert found["id"] == made["Big"] and "members" not in found
