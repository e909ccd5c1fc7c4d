"""Pairing a kiosk by its link, and the kiosk API's authentication and scope."""

from __future__ import annotations

import httpx

from hostsync.config import Settings
from hostsync.frontdesk.sites import Site
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import create_kiosk, create_site, list_kiosks, revoke_kiosk
from hostsync.store.tenants import create_tenant
from hostsync.web.app import create_app
from tests.frontdesk.conftest import ORIGIN


def app_client(database: Database, settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, database)), base_url=ORIGIN
    )


async def test_the_link_pairs_the_browser_and_leaves_the_address_bar(
    database: Database, settings: Settings, site: Site, kiosk_secret: str
) -> None:
    async with app_client(database, settings) as browser:
        paired = await browser.get(f"/kiosk/{kiosk_secret}")
        assert paired.status_code == 303
        assert paired.headers["location"] == "/kiosk"
        cookie = paired.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
        assert paired.headers["referrer-policy"] == "no-referrer"
        mine = await browser.get("/v1/kiosk/settings")
    assert mine.status_code == 200
    assert mine.json()["site"] == {"id": site.id, "name": "Paris HQ", "timezone": "Europe/Paris"}
    assert mine.json()["kiosk"]["label"] == "Lobby"


async def test_a_bad_link_pairs_nothing(
    database: Database, settings: Settings, kiosk_secret: str
) -> None:
    async with app_client(database, settings) as browser:
        refused = await browser.get(f"/kiosk/{kiosk_secret}x")
        assert refused.status_code == 404
        assert "not valid" in refused.text
        assert "set-cookie" not in refused.headers
        unpaired = await browser.get("/v1/kiosk/settings")
    assert unpaired.status_code == 401
    assert unpaired.json()["error"] == "unpaired"


async def test_an_api_key_or_garbage_is_no_kiosk_secret(
    database: Database, settings: Settings, api_key: str, kiosk_secret: str
) -> None:
    async with app_client(database, settings) as http:
        for header in (f"Bearer {api_key}", "Bearer ", "Basic abc", f"Bearer {kiosk_secret}!"):
            answer = await http.get("/v1/kiosk/settings", headers={"Authorization": header})
            assert answer.status_code == 401, header
            assert set(answer.json()) == {"status", "error", "detail"}


async def test_a_revoked_kiosk_is_refused_at_once(
    database: Database, settings: Settings, site: Site, kiosk: httpx.AsyncClient
) -> None:
    assert (await kiosk.get("/v1/kiosk/settings")).status_code == 200
    with database.connect(write=True) as connection:
        (lobby,) = list_kiosks(connection, site.tenant_id, site.id)
        revoke_kiosk(connection, site.tenant_id, lobby.id)
    assert (await kiosk.get("/v1/kiosk/settings")).status_code == 401


async def test_each_kiosk_sees_only_its_own_site(
    database: Database, settings: Settings, site: Site, kiosk: httpx.AsyncClient
) -> None:
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        elsewhere = create_site(connection, other, "Paris HQ")
        _, secret = create_kiosk(connection, other, elsewhere.id, "Lobby")
    mine = (await kiosk.get("/v1/kiosk/settings")).json()
    theirs = (
        await kiosk.get("/v1/kiosk/settings", headers={"Authorization": f"Bearer {secret}"})
    ).json()
    assert mine["site"]["id"] == site.id
    assert theirs["site"]["id"] == elsewhere.id


async def test_unknown_kiosk_api_paths_answer_json(kiosk: httpx.AsyncClient) -> None:
    answer = await kiosk.get("/v1/kiosk/nothing")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/")
