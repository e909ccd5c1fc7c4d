"""The console over HTTP: sign-in, CSRF, rate limit, tenant isolation, keys, hosts, activity."""

from __future__ import annotations

import re

import httpx

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from hostsync.store.tenants import create_key, create_tenant
from hostsync.web.admin.security import SignInLimiter
from tests.admin.conftest import PASSWORD, console_app, csrf_of, sign_in

ENTRA = "/integrations/host-synchronization/entra"
KEYS = "/integrations/host-synchronization/keys"


async def test_pages_need_a_session(browser: httpx.AsyncClient) -> None:
    """Every console page redirects to sign-in without a session."""
    for path in ("/", ENTRA, "/hosts", "/groups", "/activity", "/activity.csv"):
        response = await browser.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next=")


async def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_it(
    browser: httpx.AsyncClient, admin_email: str
) -> None:
    """The session cookie is HttpOnly and SameSite=Lax; signing out invalidates it."""
    response = await sign_in(browser, admin_email)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "hostsync_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests
    status = await browser.get("/")
    assert status.status_code == 200
    assert "Sync status" in status.text
    token = browser.cookies["hostsync_session"]
    out = await browser.post("/signout", data={"csrf": csrf_of(status.text)})
    assert out.status_code == 303
    browser.cookies.set("hostsync_session", token)
    assert (await browser.get("/")).status_code == 303


async def test_cookie_is_secure_over_https(
    database: Database, settings: Settings, admin_email: str
) -> None:
    """Over HTTPS the session cookie gets the Secure flag."""
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as http:
        response = await sign_in(http, admin_email)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_wrong_password_and_missing_csrf_are_refused(
    browser: httpx.AsyncClient, admin_email: str
) -> None:
    """A wrong password answers 401; a sign-in without the CSRF pair answers 403."""
    assert (await sign_in(browser, admin_email, "wrong password!!")).status_code == 401
    bare = await browser.post("/signin", data={"email": admin_email, "password": PASSWORD})
    assert bare.status_code == 403
    assert "hostsync_session" not in browser.cookies


async def test_sign_in_is_rate_limited(
    database: Database, settings: Settings, admin_email: str
) -> None:
    """After the allowed failures even the right password is refused with 429."""
    app = console_app(database, settings, limiter=SignInLimiter(per_account=3))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        for _ in range(3):
            assert (await sign_in(http, admin_email, "not the password")).status_code == 401
        blocked = await sign_in(http, admin_email)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_forms_need_the_session_csrf_token(signed_in: httpx.AsyncClient) -> None:
    """A POST without the session's CSRF token, or from another origin, changes nothing."""
    assert (await signed_in.post(KEYS, data={"label": "x"})).status_code == 403
    page = await signed_in.get(ENTRA)
    foreign = await signed_in.post(
        KEYS,
        data={"csrf": csrf_of(page.text), "label": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert "hsk_" not in (await signed_in.get(ENTRA)).text


async def test_key_lifecycle_from_the_entra_page(
    signed_in: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    """Generate (shown once), use, rotate (both work), revoke (401)."""
    page = await signed_in.get(ENTRA)
    assert f"http://testserver{SCIM_PREFIX}" in page.text
    assert "Okta and other SCIM clients" in page.text
    created = await signed_in.post(KEYS, data={"csrf": csrf_of(page.text), "label": "Entra"})
    assert created.status_code == 303  # Post/Redirect/Get: the key is on the next page
    shown = await signed_in.get(ENTRA)
    key = re.search(r'id="new-key" type="text" readonly value="(hsk_[^"]+)"', shown.text)
    assert key, shown.text
    again = await signed_in.get(ENTRA)
    assert key.group(1) not in again.text  # shown once
    key_id = re.search(r'data-key-id="([0-9a-f]{32})"', again.text)
    assert key_id
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://testserver{SCIM_PREFIX}"
    ) as scim:
        auth = {"Authorization": f"Bearer {key.group(1)}"}
        assert (await scim.get("/Users", headers=auth)).status_code == 200
        rotated = await signed_in.post(
            f"{KEYS}/{key_id.group(1)}/rotate", data={"csrf": csrf_of(again.text)}
        )
        assert rotated.status_code == 303
        rotated = await signed_in.get(ENTRA)
        new_key = re.search(r'id="new-key" type="text" readonly value="(hsk_[^"]+)"', rotated.text)
        assert new_key and new_key.group(1) != key.group(1)
        assert (await scim.get("/Users", headers=auth)).status_code == 200
        revoked = await signed_in.post(
            f"{KEYS}/{key_id.group(1)}/revoke", data={"csrf": csrf_of(rotated.text)}
        )
        assert revoked.status_code == 303
        assert (await scim.get("/Users", headers=auth)).status_code == 401
        new_auth = {"Authorization": f"Bearer {new_key.group(1)}"}
        assert (await scim.get("/Users", headers=new_auth)).status_code == 200


async def test_admin_sees_only_their_tenant(
    signed_in: httpx.AsyncClient, database: Database
) -> None:
    """Another tenant's keys, hosts and key actions are invisible or 404."""
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        other_key, _ = create_key(connection, other, "fabrikam-key")
    with database.directory(other) as directory:
        host = directory.create_user({"userName": "secret-host@fabrikam.com"})
    page = await signed_in.get(ENTRA)
    assert "fabrikam-key" not in page.text
    assert (await signed_in.get(f"/hosts/{host.id}")).status_code == 404
    assert "secret-host" not in (await signed_in.get("/hosts?q=secret")).text
    revoke = await signed_in.post(
        f"{KEYS}/{other_key.id}/revoke", data={"csrf": csrf_of(page.text)}
    )
    assert revoke.status_code == 404


async def test_hosts_search_page_and_purge(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """Search finds hosts; only a soft-deleted host can be purged, with the typed name."""
    with database.directory(tenant_id) as directory:
        kept = directory.create_user({"userName": "grace@contoso.com", "displayName": "Grace"})
        gone = directory.create_user({"userName": "linus@contoso.com"})
        directory.delete_user(gone.id)
    listing = await signed_in.get("/hosts?q=grac")
    assert "grace@contoso.com" in listing.text
    assert "linus@contoso.com" not in listing.text
    deleted = await signed_in.get("/hosts?status=deleted")
    assert "linus@contoso.com" in deleted.text
    assert (await signed_in.get(f"/hosts/{kept.id}/purge")).status_code == 404
    confirm = await signed_in.get(f"/hosts/{gone.id}/purge")
    assert confirm.status_code == 200
    wrong = await signed_in.post(
        f"/hosts/{gone.id}/purge", data={"csrf": csrf_of(confirm.text), "confirm": "nope"}
    )
    assert wrong.status_code == 422
    done = await signed_in.post(
        f"/hosts/{gone.id}/purge",
        data={"csrf": csrf_of(confirm.text), "confirm": "linus@contoso.com"},
    )
    assert done.status_code == 303
    assert (await signed_in.get(f"/hosts/{gone.id}")).status_code == 404
    log = await signed_in.get("/activity")
    assert "purge" in log.text
    assert gone.id in log.text


async def test_groups_and_members_are_listed(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """The group list shows member counts; the group page lists members."""
    with database.directory(tenant_id) as directory:
        user = directory.create_user({"userName": "member@contoso.com"})
        group = directory.create_group({"displayName": "Front desk"}, [user.id])
    groups = await signed_in.get("/groups")
    assert "Front desk" in groups.text
    page = await signed_in.get(f"/groups/{group.id}")
    assert "member@contoso.com" in page.text


async def test_activity_filters_and_csv(
    signed_in: httpx.AsyncClient, database: Database, settings: Settings, api_key: str
) -> None:
    """Failures filter and the CSV export carry the SCIM requests made."""
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://testserver{SCIM_PREFIX}",
        headers={"Authorization": f"Bearer {api_key}", "User-Agent": "Okta SCIM"},
    ) as scim:
        assert (await scim.post("/Users", json={"userName": "x@contoso.com"})).status_code == 201
        assert (await scim.delete("/Users/unknown-id")).status_code == 404
    failures = await signed_in.get("/activity?outcome=failure")
    assert "unknown-id" in failures.text
    assert "x@contoso.com" not in failures.text
    users_only = await signed_in.get("/activity?resource=User&period=1h")
    assert "x@contoso.com" in users_only.text
    exported = await signed_in.get("/activity.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "Okta SCIM" in exported.text
    status = await signed_in.get("/")
    assert "Request errors, last 24 h" in status.text


async def test_status_counts_requests_and_warns_of_quarantine(
    database: Database, settings: Settings, admin_email: str, api_key: str
) -> None:
    """Requests and errors of the last 24 hours are counted; mostly failing → a warning."""
    app = console_app(database, settings.model_copy(update={"request_count_flush_seconds": 0}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        assert (await sign_in(http, admin_email)).status_code == 303
        scim = {"Authorization": f"Bearer {api_key}"}
        for _ in range(3):
            ok = await http.get("/v1/usersync/SCIM/Users", headers=scim)
            assert ok.status_code == 200
        calm = await http.get("/")
        assert "Most recent provisioning requests failed" not in calm.text
        assert re.search(r"SCIM requests, last 24 h</dt><dd>3</dd>", calm.text)
        for _ in range(9):
            missing = await http.get("/v1/usersync/SCIM/Users/nope", headers=scim)
            assert missing.status_code == 404
        alarmed = await http.get("/")
    assert re.search(r"SCIM requests, last 24 h</dt><dd>12</dd>", alarmed.text)
    assert re.search(r"Request errors, last 24 h</dt><dd[^>]*>9</dd>", alarmed.text)
    assert "Most recent provisioning requests failed" in alarmed.text
