"""The kiosk's check-in and check-out API: input, scope (site and tenant), and the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.requests import Request

from hostsync.config import Settings
from hostsync.frontdesk.days import day_start
from hostsync.frontdesk.sites import Site
from hostsync.store.database import Database
from hostsync.store.frontdesk.outbox import deliveries_of
from hostsync.store.frontdesk.sites import (
    archive_site,
    create_kiosk,
    create_site,
    set_site_groups,
)
from hostsync.store.frontdesk.tables import visits
from hostsync.store.frontdesk.visits import get_visit
from hostsync.store.tenants import create_tenant
from hostsync.web.app import create_app
from hostsync.web.kiosk.checkin import Refusal, json_object
from tests.frontdesk.conftest import ORIGIN, make_host

VISITS = "/v1/kiosk/visits"


@pytest.fixture(autouse=True)
def _release_thread_connections(database: Database) -> Iterator[None]:
    """Close the connections this test's worker threads kept (as tests/admin/conftest.py)."""
    yield
    database.dispose()


def visit_count(database: Database, tenant_id: str) -> int:
    with database.connect(write=False) as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(visits).where(visits.c.tenant_id == tenant_id)
            ).scalar_one()
        )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def other_kiosk(database: Database, tenant_id: str, site_name: str) -> tuple[Site, str]:
    """A site of ``tenant_id`` and the secret of a kiosk of it."""
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant_id, site_name, timezone="America/New_York")
        return site, create_kiosk(connection, tenant_id, site.id, "Gate")[1]


def assert_error(answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"status", "error", "detail"}
    assert body["status"] == status
    for word in words:
        assert word in body["detail"], body


# ---- check in ----


async def test_a_visitor_checks_in_to_see_a_host(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    host = make_host(database, site.tenant_id, "José", "Núñez")
    answer = await kiosk.post(
        VISITS,
        json={
            "full_name": "  Ada   Lovelace ",
            "company": "Analytical Engines",
            "email": "ada@example.org",
            "host_id": host,
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"id", "host", "front_desk", "checked_in_at"}
    assert body["host"] == {"label": "José Núñez"}
    assert body["front_desk"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["checked_in_at"])
    with database.connect(write=False) as connection:
        visit = get_visit(connection, site.tenant_id, body["id"])
        queued = deliveries_of(connection, site.tenant_id, body["id"])
    assert visit is not None
    assert (visit.site_id, visit.visitor_name, visit.visitor_email) == (
        site.id,
        "Ada Lovelace",
        "ada@example.org",
    )
    assert visit.checked_in_by == "kiosk Lobby"
    assert visit.kiosk_id is not None
    assert visit.host_label == "José Núñez"
    assert [d.purpose for d in queued] == ["host"]


async def test_front_desk_needs_no_host(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    answer = await kiosk.post(VISITS, json={"full_name": "Grace Hopper", "front_desk": True})
    assert answer.status_code == 201, answer.text
    assert answer.json()["host"] is None
    assert answer.json()["front_desk"] is True
    assert visit_count(database, site.tenant_id) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"front_desk": True}, ["Full name", "required"]),
        ({"full_name": "   ", "front_desk": True}, ["Full name", "required"]),
        ({"full_name": 42, "front_desk": True}, ["Full name", "text"]),
        ({"full_name": ["Ada"], "front_desk": True}, ["Full name", "text"]),
        ({"full_name": "Ada", "company": {"n": 1}, "front_desk": True}, ["Company", "text"]),
        ({"full_name": "Ada", "email": 5, "front_desk": True}, ["E-mail", "text"]),
        ({"full_name": "Ada", "email": "not an address", "front_desk": True}, ["E-mail"]),
        ({"full_name": "Ada", "host_id": 7}, ["host_id", "text"]),
        ({"full_name": "Ada", "front_desk": "yes"}, ["front_desk", "true or false"]),
        ({"full_name": "Ada", "front_desk": None}, ["front_desk"]),
        ({"full_name": "Ada"}, ["Choose who you are visiting"]),
        ({"full_name": "Ada", "host_id": "x", "front_desk": True}, ["not both"]),
        ({"full_name": "A" * 201, "front_desk": True}, ["Full name", "200"]),
        ({"full_name": "Ada", "front_desk": True, "badge": 1}, ["Unknown field 'badge'"]),
        ({"full_name": "Ada\u0000", "front_desk": True}, ["Full name", "control"]),
        ({"full_name": "Ada", "company": "\u0007", "front_desk": True}, ["Company", "control"]),
    ],
)
async def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    database: Database,
    site: Site,
    kiosk: httpx.AsyncClient,
    body: dict[str, Any],
    words: list[str],
) -> None:
    answer = await kiosk.post(VISITS, json=body)
    assert_error(answer, 400, *words)
    assert answer.json()["error"] == "invalid_visit"
    assert visit_count(database, site.tenant_id) == 0


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"", 400, ["empty"]),
        (b"{", 400, ["not valid JSON"]),
        (b'["full_name"]', 400, ["JSON object"]),
        (b'"Ada"', 400, ["JSON object"]),
        (b"\xff\xfe", 400, ["not valid JSON"]),
        (b'{"full_name": "' + b"a" * 9000 + b'"}', 413, ["8192"]),
    ],
)
async def test_a_body_that_is_no_json_object_is_refused(
    database: Database,
    site: Site,
    kiosk: httpx.AsyncClient,
    content: bytes,
    status: int,
    words: list[str],
) -> None:
    answer = await kiosk.post(VISITS, content=content, headers={"Content-Type": "application/json"})
    assert_error(answer, status, *words)
    assert visit_count(database, site.tenant_id) == 0


async def test_a_body_is_capped_as_it_streams(kiosk: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 1000

    answer = await kiosk.post(
        VISITS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(answer, 413)


@pytest.mark.parametrize(
    ("length", "status"), [(b"x", 400), (b"\xd9\xa3", 400), (b"-1", 400), (b"99999", 413)]
)
async def test_a_bad_content_length_is_refused_before_the_body_is_read(
    length: bytes, status: int
) -> None:
    read: list[bool] = []

    async def receive() -> dict[str, Any]:
        read.append(True)
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": VISITS,
        "query_string": b"",
        "headers": [(b"content-length", length), (b"content-type", b"application/json")],
    }
    with pytest.raises(Refusal) as refused:
        await json_object(Request(scope, receive))
    assert refused.value.status == status
    assert read == []


async def test_a_body_must_be_sent_as_json(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    for media in ("text/plain", "application/x-www-form-urlencoded", ""):
        answer = await kiosk.post(
            VISITS,
            content=b'{"full_name": "Ada", "front_desk": true}',
            headers={"Content-Type": media} if media else {},
        )
        assert_error(answer, 415, "application/json")
    assert visit_count(database, site.tenant_id) == 0


async def test_a_cookie_post_without_json_is_415_and_with_json_works(
    database: Database, settings: Settings, site: Site, kiosk_secret: str
) -> None:
    app = create_app(settings, database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ORIGIN
    ) as browser:
        assert (await browser.get(f"/kiosk/{kiosk_secret}")).status_code == 303
        form = await browser.post(VISITS, data={"full_name": "Ada", "front_desk": "true"})
        assert_error(form, 415)
        plain = await browser.post(
            VISITS,
            content=b'{"full_name": "Ada", "front_desk": true}',
            headers={"Content-Type": "text/plain"},
        )
        assert_error(plain, 415)
        assert visit_count(database, site.tenant_id) == 0
        sent = await browser.post(VISITS, json={"full_name": "Ada", "front_desk": True})
        assert sent.status_code == 201
        found = await browser.get(VISITS, params={"q": "ada"})
        assert [v["name"] for v in found.json()["visits"]] == ["Ada"]
        checkout = await browser.post(f"{VISITS}/{sent.json()['id']}/checkout")
        assert_error(checkout, 415)  # a cookie POST always needs the JSON media type
        checkout = await browser.post(f"{VISITS}/{sent.json()['id']}/checkout", json={})
        assert checkout.status_code == 200


async def test_no_kiosk_no_visit(
    database: Database, settings: Settings, site: Site, api_key: str
) -> None:
    app = create_app(settings, database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
        for headers in ({}, bearer(api_key), bearer("hsk_kiosk_nothing")):
            answer = await http.post(
                VISITS, json={"full_name": "Ada", "front_desk": True}, headers=headers
            )
            assert_error(answer, 401)
            assert_error(await http.get(VISITS, params={"q": "ada"}, headers=headers), 401)
    assert visit_count(database, site.tenant_id) == 0


@pytest.mark.parametrize("why", ["inactive", "deleted", "other tenant", "unknown", "not mapped"])
async def test_a_host_the_site_does_not_offer_is_refused(
    database: Database, site: Site, kiosk: httpx.AsyncClient, why: str
) -> None:
    tenant_id = site.tenant_id
    if why == "inactive":
        host = make_host(database, tenant_id, "Ina", "Active", active=False)
    elif why == "deleted":
        host = make_host(database, tenant_id, "Del", "Eted")
        with database.directory(tenant_id) as directory:
            directory.delete_user(host)
    elif why == "other tenant":
        with database.connect(write=True) as connection:
            other = create_tenant(connection, "Fabrikam").id
        host = make_host(database, other, "Fab", "Rikam")
    elif why == "unknown":
        host = "0" * 32
    else:
        member = make_host(database, tenant_id, "Mem", "Ber")
        host = make_host(database, tenant_id, "Out", "Sider")
        with database.directory(tenant_id) as directory:
            group = directory.create_group({"displayName": "Paris staff"}, [member]).id
        with database.connect(write=True) as connection:
            set_site_groups(connection, tenant_id, site.id, [group])
    answer = await kiosk.post(VISITS, json={"full_name": "Ada", "host_id": host})
    assert_error(answer, 409, "cannot be chosen")
    assert answer.json()["error"] == "host_unavailable"
    assert "Fab" not in answer.text and "Ina" not in answer.text
    assert visit_count(database, tenant_id) == 0


async def test_a_host_deactivated_after_the_search_is_refused_at_check_in(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    host = make_host(database, site.tenant_id, "José", "Núñez")
    with database.directory(site.tenant_id) as directory:
        stored = directory.get_user(host)
        assert stored is not None
        directory.replace_user(host, {**stored.document, "active": False}, version=stored.version)
    answer = await kiosk.post(VISITS, json={"full_name": "Ada", "host_id": host})
    assert_error(answer, 409)


async def test_the_label_falls_back_to_the_name_never_the_user_name(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    with database.directory(site.tenant_id) as directory:
        host = directory.create_user(
            {
                "userName": "lin@contoso.example",
                "name": {"givenName": "Lin", "familyName": "Wu"},
                "active": True,
            }
        ).id
        nameless = directory.create_user({"userName": "x9@contoso.example", "active": True}).id
    labelled = await kiosk.post(VISITS, json={"full_name": "Ada", "host_id": host})
    assert labelled.json()["host"] == {"label": "Lin Wu"}
    bare = await kiosk.post(VISITS, json={"full_name": "Ada", "host_id": nameless})
    assert bare.status_code == 201
    assert bare.json()["host"] is None
    assert "x9@" not in bare.text


async def test_an_archived_sites_kiosk_checks_no_one_in(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    with database.connect(write=True) as connection:
        archive_site(connection, site.tenant_id, site.id)
    answer = await kiosk.post(VISITS, json={"full_name": "Ada", "front_desk": True})
    assert_error(answer, 401)
    assert visit_count(database, site.tenant_id) == 0


# ---- check-out search and check-out ----


async def checked_in(kiosk: httpx.AsyncClient, name: str, **extra: Any) -> str:
    answer = await kiosk.post(VISITS, json={"full_name": name, "front_desk": True, **extra})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_check_out_search_lists_todays_visitors_by_name_only(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    ada = await checked_in(kiosk, "Åda Lovelace", email="ada@example.org", company="Engines")
    await checked_in(kiosk, "Alan Turing")
    answer = await kiosk.get(VISITS, params={"q": "ada lov"})
    assert answer.status_code == 200
    (found,) = answer.json()["visits"]
    assert set(found) == {"id", "name", "checked_in_at"}
    assert (found["id"], found["name"]) == (ada, "Åda Lovelace")
    assert "example.org" not in answer.text and "Engines" not in answer.text
    both = await kiosk.get(VISITS, params={"q": "A"})
    assert_error(both, 400, "at least 2")
    assert [v["name"] for v in (await kiosk.get(VISITS, params={"q": "al"})).json()["visits"]] == [
        "Alan Turing"
    ]


@pytest.mark.parametrize("query", ["", "a", " a ", "  ", "x" * 201, "ad\u0000"])
async def test_check_out_search_needs_two_letters_and_no_more_than_a_name(
    kiosk: httpx.AsyncClient, query: str
) -> None:
    assert_error(await kiosk.get(VISITS, params={"q": query}), 400)


async def test_yesterdays_and_departed_visitors_are_not_listed(
    database: Database, site: Site, kiosk: httpx.AsyncClient
) -> None:
    old = await checked_in(kiosk, "Ada Old")
    gone = await checked_in(kiosk, "Ada Gone")
    await checked_in(kiosk, "Ada Here")
    with database.connect(write=True) as connection:
        before_today = day_start(site.zone, datetime.now(ZoneInfo("UTC"))) - timedelta(minutes=1)
        connection.execute(
            update(visits).where(visits.c.id == old).values(checked_in_at=before_today)
        )
    assert (await kiosk.post(f"{VISITS}/{gone}/checkout")).status_code == 200
    found = (await kiosk.get(VISITS, params={"q": "ada"})).json()["visits"]
    assert [v["name"] for v in found] == ["Ada Here"]


async def test_a_kiosk_finds_and_checks_out_only_its_own_sites_visitors(
    database: Database, settings: Settings, site: Site, kiosk: httpx.AsyncClient
) -> None:
    tenant_id = site.tenant_id
    _, same_tenant_secret = other_kiosk(database, tenant_id, "New York")
    with database.connect(write=True) as connection:
        other_tenant = create_tenant(connection, "Fabrikam").id
    _, other_tenant_secret = other_kiosk(database, other_tenant, "Paris HQ")
    mine = await checked_in(kiosk, "Ada Lovelace")
    for secret in (same_tenant_secret, other_tenant_secret):
        theirs = await kiosk.post(
            VISITS, json={"full_name": "Ada Elsewhere", "front_desk": True}, headers=bearer(secret)
        )
        assert theirs.status_code == 201
        elsewhere = theirs.json()["id"]
        found = (await kiosk.get(VISITS, params={"q": "ada"})).json()["visits"]
        assert [v["id"] for v in found] == [mine]
        refused = await kiosk.post(f"{VISITS}/{elsewhere}/checkout")
        assert_error(refused, 404)
        mine_from_there = await kiosk.post(f"{VISITS}/{mine}/checkout", headers=bearer(secret))
        assert_error(mine_from_there, 404)
        still = (await kiosk.get(VISITS, params={"q": "ada"}, headers=bearer(secret))).json()
        assert [v["id"] for v in still["visits"]] == [elsewhere]
    with database.connect(write=False) as connection:
        visit = get_visit(connection, tenant_id, mine)
    assert visit is not None and visit.checked_out_at is None


async def test_check_out_once(database: Database, site: Site, kiosk: httpx.AsyncClient) -> None:
    visit_id = await checked_in(kiosk, "Ada Lovelace")
    answer = await kiosk.post(f"{VISITS}/{visit_id}/checkout")
    assert answer.status_code == 200
    assert answer.json()["id"] == visit_id
    assert answer.json()["checked_out_at"].endswith("Z")
    with database.connect(write=False) as connection:
        visit = get_visit(connection, site.tenant_id, visit_id)
    assert visit is not None and visit.checked_out_by == "kiosk Lobby"
    assert_error(await kiosk.post(f"{VISITS}/{visit_id}/checkout"), 404)
    for bogus in ("0" * 32, "x" * 65, "%00", "..%2F"):
        assert_error(await kiosk.post(f"{VISITS}/{bogus}/checkout"), 404)


async def test_unknown_kiosk_paths_and_methods_answer_the_kiosk_error_body(
    kiosk: httpx.AsyncClient,
) -> None:
    assert_error(await kiosk.get("/v1/kiosk/nothing"), 404)
    wrong = await kiosk.delete(VISITS)
    assert_error(wrong, 405)
    assert "allow" in wrong.headers


async def test_settings_tell_the_idle_time(
    database: Database, kiosk_secret: str, site: Site
) -> None:
    app = create_app(Settings(key_cache_seconds=0, kiosk_idle_seconds=7), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ORIGIN, headers=bearer(kiosk_secret)
    ) as http:
        answer = await http.get("/v1/kiosk/settings")
    assert answer.json()["idle_seconds"] == 7


# ---- the page ----


async def test_the_page_needs_a_pairing(
    database: Database, settings: Settings, site: Site, kiosk_secret: str
) -> None:
    app = create_app(settings, database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
        unpaired = await http.get("/kiosk")
        assert unpaired.status_code == 401
        assert "not paired" in unpaired.text
        assert "Check in" not in unpaired.text
        await http.get(f"/kiosk/{kiosk_secret}")
        page = await http.get("/kiosk")
        with database.connect(write=True) as connection:
            archive_site(connection, site.tenant_id, site.id)
        archived = await http.get("/kiosk")
    assert archived.status_code == 401
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    text = page.text
    for label in (
        "Full name",
        "Company",
        "E-mail",
        "Who are you visiting?",
        "Check in",
        "Check out",
    ):
        assert label in text, label
    assert 'role="combobox"' in text and 'role="listbox"' in text
    assert 'aria-controls="host-options"' in text and 'aria-expanded="false"' in text
    assert "Paris HQ" in text
    assert 'data-timezone="Europe/Paris"' in text
    # No inline script or style, no external asset: the CSP would block them anyway.
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert " style=" not in text and "<style" not in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)


async def test_the_page_escapes_the_site_name(
    database: Database, settings: Settings, tenant_id: str
) -> None:
    site, secret = other_kiosk(database, tenant_id, "<script>alert(1)</script>")
    app = create_app(settings, database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
        await http.get(f"/kiosk/{secret}")
        page = await http.get("/kiosk")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;" in page.text
    assert site.name in page.text.replace("&lt;", "<").replace("&gt;", ">")


async def test_the_pages_script_and_styles_are_served(kiosk: httpx.AsyncClient) -> None:
    script = await kiosk.get("/static/kiosk/kiosk.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert 'API + "/hosts?q="' in script.text
    style = await kiosk.get("/static/kiosk/kiosk.css")
    assert style.status_code == 200
    assert "min-height: 56px" in style.text


def test_today_is_the_sites_day() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 23:30 UTC on 1 July is already 2 July in Paris (UTC+2): the day began at 22:00 UTC.
    assert day_start(paris, datetime(2026, 7, 1, 23, 30)) == datetime(2026, 7, 1, 22, 0)
    assert day_start(paris, datetime(2026, 1, 15, 12, 0)) == datetime(2026, 1, 14, 23, 0)
    new_york = ZoneInfo("America/New_York")
    assert day_start(new_york, datetime(2026, 3, 8, 12, 0)) == datetime(2026, 3, 8, 5, 0)
    # Santiago's clocks go from 00:00 to 01:00 (a day with no midnight): its first moment.
    santiago = ZoneInfo("America/Santiago")
    start = day_start(santiago, datetime(2026, 9, 6, 12, 0))
    assert start.replace(tzinfo=ZoneInfo("UTC")).astimezone(santiago).hour in (0, 1)


# ---- the OpenAPI document ----


async def test_the_openapi_document_describes_the_kiosk_api(
    database: Database, settings: Settings, kiosk: httpx.AsyncClient
) -> None:
    document = (await kiosk.get("/openapi.json")).json()
    paths = document["paths"]
    operations = {
        ("get", "/v1/kiosk/settings"): "KioskSettings",
        ("get", "/v1/kiosk/hosts"): "HostList",
        ("post", "/v1/kiosk/visits"): "CheckedIn",
        ("get", "/v1/kiosk/visits"): "VisitorList",
        ("post", "/v1/kiosk/visits/{id}/checkout"): "CheckedOut",
    }
    for (method, path), schema in operations.items():
        operation = paths[path][method]
        assert operation["security"] == [{"kioskSecret": []}, {"kioskCookie": []}], path
        success = next(v for k, v in operation["responses"].items() if k.startswith("2"))
        ref = success["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{schema}"
        assert schema in document["components"]["schemas"]
        error = operation["responses"]["401"]["content"]["application/json"]["schema"]
        assert error["$ref"] == "#/components/schemas/KioskError"
    schemes = document["components"]["securitySchemes"]
    assert schemes["kioskSecret"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["kioskSecret"]["description"],
    }
    assert schemes["kioskCookie"]["name"] == "hostsync_kiosk"
    arrival = document["components"]["schemas"]["Arrival"]
    assert set(arrival["properties"]) == {"full_name", "company", "email", "host_id", "front_desk"}
    # Every kiosk API route the application serves is in the document.
    app = create_app(settings, database)
    served = {
        (method.lower(), route.path.replace("{visit_id}", "{id}"))
        for route in app.routes
        if getattr(route, "path", "").startswith("/v1/kiosk/")
        for method in (getattr(route, "methods", None) or ()) - {"HEAD"}
    }
    assert served and served <= set(operations)


async def test_a_busy_database_is_503_with_retry_after_and_writes_nothing(
    database: Database, site: Site, kiosk: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hostsync.scim.errors import UnavailableError
    from hostsync.web.kiosk import checkin

    def busy(*_args: Any, **_kwargs: Any) -> None:
        raise UnavailableError("The database is unavailable; retry shortly", 2)

    monkeypatch.setattr(checkin, "check_in", busy)
    monkeypatch.setattr(checkin, "on_site", busy)
    answer = await kiosk.post(VISITS, json={"full_name": "Ada", "front_desk": True})
    assert_error(answer, 503, "unavailable")
    assert answer.headers["retry-after"] == "2"
    assert_error(await kiosk.get(VISITS, params={"q": "ada"}), 503)
    assert visit_count(database, site.tenant_id) == 0


async def test_a_database_down_at_authentication_is_the_kiosk_error_body(
    kiosk: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hostsync.scim.errors import UnavailableError
    from hostsync.web.kiosk.pairing import KioskGate

    def down(*_args: Any, **_kwargs: Any) -> None:
        raise UnavailableError("The database is unavailable; retry shortly", 3)

    monkeypatch.setattr(KioskGate, "credential", down)
    answer = await kiosk.get(VISITS, params={"q": "ada"})
    assert_error(answer, 503, "unavailable")
    assert answer.headers["retry-after"] == "3"
    page = await kiosk.get("/kiosk")
    assert page.status_code == 503
    assert "cannot reach its server" in page.text
