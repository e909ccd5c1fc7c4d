"""Browser tests: Playwright drives Debian's Chromium against a live server on loopback.

Never downloads a browser. ``scripts/install`` installs Debian's Chromium; without it (or the
``playwright`` package) the test fails rather than skipping, so a missing install shows.
Screenshots of each page are written to docs/screenshots/.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import playwright.sync_api as playwright_api
import pytest
import uvicorn

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.database import Database
from tests.admin.conftest import PASSWORD, console_app
from tests.live_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
# docs/screenshots is refreshed when HOSTSYNC_SCREENSHOTS=1; otherwise a temporary folder.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("HOSTSYNC_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "hostsync-screenshots"
)
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

assert CHROMIUM.exists(), "the browser tests need Debian's chromium at /usr/bin/chromium"


@pytest.fixture
def live_server(database: Database) -> Iterator[str]:
    """The composed app served by uvicorn in a thread on a free loopback port."""
    settings = Settings(key_cache_seconds=0)
    port = free_port()
    config = uvicorn.Config(
        console_app(database, settings.model_copy(update={"request_count_flush_seconds": 0})),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two ``rgb(r, g, b)`` colours."""

    def luminance(colour: str) -> float:
        channels = [int(part) / 255 for part in colour[colour.index("(") + 1 : -1].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _nav(page: object, name: str) -> object:
    """A link of the main navigation."""
    main = page.get_by_role("navigation", name="Main")  # type: ignore[attr-defined]
    return main.get_by_role("link", name=name, exact=True)


def test_admin_connects_entra_and_watches_provisioning(
    live_server: str, admin_email: str, database: Database
) -> None:
    """Sign in, generate a key, provision with it, see it logged, revoke it, get 401."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_server}/")
            page.get_by_label("E-mail").fill(admin_email)
            page.get_by_label("Password").fill(PASSWORD)
            page.screenshot(path=str(SCREENSHOTS / "signin.png"))
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server}/")
            assert page.get_by_role("heading", name="Sync status").is_visible()

            _nav(page, "Integrations").click()
            tenant_url = page.get_by_test_id("tenant-url").input_value()
            assert tenant_url == f"{live_server}{SCIM_PREFIX}"
            page.get_by_label("Label").fill("Entra production")
            page.get_by_role("button", name="Generate key").click()
            key = page.get_by_test_id("new-key").input_value()
            assert key.startswith("hsk_")
            assert page.url == f"{live_server}/integrations/host-synchronization/entra"
            assert page.get_by_test_id("unreachable").is_visible()  # a loopback Tenant URL
            page.screenshot(path=str(SCREENSHOTS / "entra-key.png"), full_page=True)
            page.get_by_label("Label").focus()
            page.keyboard.press("Tab")  # keyboard focus: the Generate button shows its ring
            ring = page.evaluate(
                "(() => { const s = getComputedStyle(document.activeElement);"
                " return [s.outlineStyle, s.outlineColor]; })()"
            )
            assert ring[0] == "solid"
            assert _contrast(ring[1], "rgb(255, 255, 255)") >= 3  # WCAG 1.4.11, on the card
            assert _contrast(ring[1], "rgb(246, 247, 249)") >= 3  # and on the page
            page.reload()  # Post/Redirect/Get: a reload neither shows nor mints a key
            assert page.get_by_test_id("new-key").count() == 0
            assert page.locator("table.keys tbody tr").count() == 1

            headers = {"Authorization": f"Bearer {key}", "User-Agent": "Azure AD SCIM Test"}
            created = httpx.post(
                f"{tenant_url}/Users",
                headers=headers,
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "browser.host@contoso.com",
                    "displayName": "Browser Host",
                    "emails": [{"value": "browser.host@contoso.com", "primary": True}],
                },
            )
            assert created.status_code == 201
            host_id = created.json()["id"]
            group = httpx.post(
                f"{tenant_url}/Groups",
                headers=headers,
                json={"displayName": "Lobby hosts", "members": [{"value": host_id}]},
            )
            assert group.status_code == 201
            assert httpx.get(f"{tenant_url}/Users/nope", headers=headers).status_code == 404

            _nav(page, "Activity").click()
            row = page.locator("table.activity tbody tr", has_text="browser.host@contoso.com")
            assert row.first.is_visible()
            assert "Azure AD SCIM Test" in row.first.inner_text()
            # The administrator's own actions are in the log too (issue 18: audit entries).
            for audited in ("sign-in", "Entra production"):
                entry = page.locator("table.activity tbody tr", has_text=audited)
                assert entry.first.is_visible(), audited
            page.get_by_role("group", name="Resource").get_by_role("link", name="API keys").click()
            assert "browser.host@contoso.com" not in page.locator("table.activity").inner_text()
            assert page.locator("table.activity tbody tr", has_text="create").first.is_visible()
            _nav(page, "Activity").click()
            page.screenshot(path=str(SCREENSHOTS / "activity.png"), full_page=True)

            _nav(page, "Hosts").click()
            page.get_by_label("Search").fill("browser")
            page.get_by_role("button", name="Filter").click()
            page.screenshot(path=str(SCREENSHOTS / "hosts.png"), full_page=True)
            page.get_by_role("link", name="Browser Host").click()
            assert page.get_by_role("link", name="Lobby hosts").is_visible()
            page.screenshot(path=str(SCREENSHOTS / "host.png"), full_page=True)

            _nav(page, "Groups").click()
            page.screenshot(path=str(SCREENSHOTS / "groups.png"), full_page=True)
            page.get_by_role("link", name="Lobby hosts").click()
            page.screenshot(path=str(SCREENSHOTS / "group.png"), full_page=True)

            _nav(page, "Sync status").click()
            errors = page.locator("dt:has-text('Request errors, last 24 h') + dd").inner_text()
            failures = page.locator("h2:has-text('Latest failures') + div tbody tr").count()
            assert int(errors) == failures == 1  # the tile agrees with the failures table
            page.screenshot(path=str(SCREENSHOTS / "status.png"), full_page=True)

            _nav(page, "Integrations").click()
            page.get_by_role("button", name="Rotate key Entra production").click()
            replaced = page.get_by_test_id("replaced")
            assert replaced.inner_text().startswith("replaced by hsk_")
            rotated_key = page.get_by_test_id("new-key").input_value()
            assert rotated_key.startswith("hsk_") and rotated_key != key
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Revoke key Entra production", exact=True).click()
            assert page.get_by_role("status").inner_text().startswith("Key revoked")
            page.screenshot(path=str(SCREENSHOTS / "entra-revoked.png"), full_page=True)
            assert httpx.get(f"{tenant_url}/Users", headers=headers).status_code == 401

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.context.add_cookies(page.context.cookies())
            long_name = "maximilian.alexander.featherstonehaugh-worthington@subsidiary.contoso.com"
            long_host = httpx.post(
                f"{tenant_url}/Users",
                headers={"Authorization": f"Bearer {rotated_key}"},
                json={"userName": long_name, "active": False},
            )
            assert long_host.status_code == 201, long_host.text
            long_id = long_host.json()["id"]
            for path in (
                f"/hosts/{long_id}",
                f"/hosts/{long_id}/purge",
                "/",
                "/integrations/host-synchronization/entra",
                "/hosts",
                f"/hosts/{host_id}",
                f"/hosts/{host_id}/purge",
                "/groups",
                "/activity",
                "/no-such-page",
            ):
                phone.goto(f"{live_server}{path}")
                width = phone.evaluate("document.documentElement.scrollWidth")
                wide = phone.evaluate(
                    "Array.from(document.querySelectorAll('body *')).filter("
                    "e => e.getBoundingClientRect().right > 391 && !e.closest('.scroll'))"
                    ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 8)"
                )
                assert width <= 390, f"{path}: sideways scroll at phone width ({width}px): {wide}"
                assert phone.title().endswith("· hostsync") and len(phone.title()) > 11, path
            phone.goto(f"{live_server}/activity")
            phone.screenshot(path=str(SCREENSHOTS / "activity-phone.png"), full_page=True)
            phone.goto(f"{live_server}/integrations/host-synchronization/entra")
            phone.screenshot(path=str(SCREENSHOTS / "entra-phone.png"), full_page=True)
        finally:
            browser.close()
