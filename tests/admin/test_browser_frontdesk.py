"""Browser test of the front-desk console: Playwright drives Debian's Chromium on loopback.

An administrator creates a site and a kiosk (its link is shown once, and pairs a tablet),
sees the visits and who is on site, checks a visitor out, and prints the evacuation list.
With ``HOSTSYNC_SCREENSHOTS=1`` it refreshes docs/screenshots/site.png, visits.png and on-site.png.
"""

from __future__ import annotations

import re
from datetime import timedelta

import playwright.sync_api as playwright_api

from hostsync.store.clock import now
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import list_sites
from hostsync.store.frontdesk.tables import visits
from tests.admin.conftest import PASSWORD
from tests.admin.frontdesk import new_group, visit
from tests.admin.test_browser import ARGS, CHROMIUM, SCREENSHOTS, _nav
from tests.admin.test_browser import live_server as live_server  # the fixture
from tests.frontdesk.conftest import make_host

PHONE = 390


def _check_in_some(database: Database, tenant_id: str, ada: str, grace: str) -> None:
    """Visitors at the site the test created, as kiosks would check them in."""
    with database.connect(write=False) as connection:
        (site,) = list_sites(connection, tenant_id)
    people = [
        ("Ada Lovelace", "Analytical Engines", (ada, "José Núñez"), 95),
        ("Grace Hopper", "US Navy", (grace, "Chloé Durand"), 70),
        ("Alan Turing", "Bletchley Park", None, 40),
        ("Katherine Johnson", "NASA", (ada, "José Núñez"), 12),
    ]
    for name, company, host, minutes_ago in people:
        made = visit(database, site, name, host=host, company=company)
        with database.connect(write=True) as connection:
            connection.execute(
                visits.update()
                .where(visits.c.id == made.id)
                .values(checked_in_at=now() - timedelta(minutes=minutes_ago))
            )


def test_front_desk_console_sites_kiosks_visits_and_on_site(
    live_server: str, admin_email: str, database: Database, tenant_id: str
) -> None:
    """Create a site and a kiosk, see visits and who is on site, check out, print."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    jose = make_host(database, tenant_id, "José", "Núñez", title="Head of Sales")
    chloe = make_host(database, tenant_id, "Chloé", "Durand")
    new_group(database, tenant_id, "Paris office", [jose, chloe])
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_server}/")
            page.get_by_label("E-mail").fill(admin_email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server}/")

            _nav(page, "Sites").click()
            assert page.get_by_text("No sites yet").is_visible()
            page.get_by_label("Name").fill("Paris HQ")
            page.get_by_label("Time zone").fill("Europe/Paris")
            page.get_by_role("button", name="Add site").click()
            assert page.get_by_role("heading", name="Paris HQ").is_visible()
            assert page.get_by_role("status").inner_text().startswith("Site “Paris HQ” created")

            page.get_by_label("End of day").fill("18:30")
            page.get_by_label("Fallback recipients").fill("desk@contoso.example")
            page.get_by_label("First name and last initial").check()
            page.get_by_role("button", name="Save settings").click()
            assert page.get_by_role("status").inner_text() == "Settings saved."
            assert page.get_by_label("End of day").input_value() == "18:30"

            page.get_by_label("Group", exact=True).select_option(label="Paris office")
            page.get_by_role("button", name="Add group").click()
            assert page.get_by_role("link", name="Paris office").is_visible()

            page.get_by_label("Label").fill("Lobby tablet")
            page.get_by_role("button", name="Create kiosk").click()
            link = page.get_by_test_id("new-kiosk-link").input_value()
            assert link.startswith(f"{live_server}/kiosk/hsk_kiosk_")
            row = page.locator("table.kiosks tbody tr", has_text="Lobby tablet")
            assert "active" in row.inner_text() and "never" in row.inner_text()
            page.screenshot(path=str(SCREENSHOTS / "site.png"), full_page=True)
            page.reload()  # Post/Redirect/Get: the link is not shown again
            assert page.get_by_test_id("new-kiosk-link").count() == 0

            tablet = browser.new_page(viewport={"width": 1024, "height": 768})
            tablet.goto(link)  # pairs and lands on the kiosk
            assert tablet.url == f"{live_server}/kiosk"
            tablet.close()

            _check_in_some(database, tenant_id, jose, chloe)
            _nav(page, "Visits").click()
            assert page.locator("table.visits tbody tr").count() == 4
            assert page.locator("table.visits", has_text="Ada Lovelace").is_visible()
            page.screenshot(path=str(SCREENSHOTS / "visits.png"), full_page=True)
            page.get_by_label("Host").fill("núñez")
            page.wait_for_url(re.compile(r"host=n%C3%BA%C3%B1ez"))  # the live filter submits
            assert page.locator("table.visits tbody tr").count() == 2
            page.get_by_role("link", name="Ada Lovelace").click()
            assert page.get_by_role("heading", name="Ada Lovelace").is_visible()
            assert page.locator("table.deliveries tbody tr").count() == 1

            _nav(page, "On site now").click()
            assert page.get_by_test_id("head-count").inner_text() == "4 visitors on site"
            page.screenshot(path=str(SCREENSHOTS / "on-site.png"), full_page=True)
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Check out Grace Hopper").click()
            assert page.get_by_role("status").inner_text() == "Grace Hopper is checked out."
            assert page.get_by_test_id("head-count").inner_text() == "3 visitors on site"

            page.get_by_role("link", name="Evacuation list").click()
            assert page.get_by_test_id("head-count").inner_text() == "Head count: 3"
            page.emulate_media(media="print")
            assert not page.locator("header.top").is_visible()  # no navigation on paper
            assert not page.get_by_role("button", name="Print").is_visible()
            assert page.get_by_role("heading", name="Evacuation list").is_visible()
            page.emulate_media(media="screen")

            phone = browser.new_page(viewport={"width": PHONE, "height": 844})
            phone.context.add_cookies(page.context.cookies())
            with database.connect(write=False) as connection:
                (site,) = list_sites(connection, tenant_id)
            for path in (
                "/sites",
                f"/sites/{site.id}",
                "/visits",
                "/on-site",
                f"/on-site/print?site={site.id}",
            ):
                phone.goto(f"{live_server}{path}")
                width = phone.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE, f"{path}: sideways scroll at phone width ({width}px)"
        finally:
            browser.close()
