"""A newcomer's first hour (issue 26), in Debian's Chromium against a real ``hostsync demo``.

``hostsync demo`` runs as its own process on a free loopback port, in an empty folder, as the
README's first command runs it. The test reads what it prints (console, administrator,
password), signs in, opens Integrations > Host Synchronization > Microsoft Entra ID, generates
a key, reloads (the key is not shown again, its prefix still is), provisions two hosts and one
failed request over SCIM with that key, and checks that the status tiles, the failures table
and the hosts page agree. The activity page names people, finds them by name, filters by
chips and shows times in the browser's own zone; at 390x844 no page scrolls sideways.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import playwright.sync_api as playwright_api
import pytest

from hostsync.config import SCIM_PREFIX
from tests.admin.test_browser import ARGS, CHROMIUM, SCREENSHOTS
from tests.live_server import free_port

RUNNING = "running — Ctrl+C to stop"
ENTRA = "/integrations/host-synchronization/entra"
VIEWER_ZONE = "Asia/Kolkata"  # UTC+05:30 all year: a local time differs from UTC by minutes too
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``hostsync demo`` serving from an empty folder; the lines it printed, by label."""
    port = free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOSTSYNC_DATABASE_URL", "HOSTSYNC_ALLOWED_HOSTS", "HOSTSYNC_PUBLIC_URL")
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "hostsync", "demo", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    lines: dict[str, str] = {}
    watchdog = threading.Timer(60, process.terminate)  # a demo that never says so fails
    watchdog.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            label, _, value = line.partition(":")
            lines.setdefault(label.strip(), value.strip())
            if line.strip() == RUNNING:
                break
        watchdog.cancel()
        assert "Console" in lines, (
            f"demo printed {lines}; {process.stderr.read() if process.stderr else ''}"
        )
        deadline = time.monotonic() + 20
        while True:  # "running" is printed just before uvicorn binds the port
            try:
                httpx.get(lines["Console"], timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo's console never answered"
                time.sleep(0.1)
        yield lines
    finally:
        watchdog.cancel()
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _tile(page: playwright_api.Page, name: str) -> int:
    return int(page.locator(f"dt:text-is('{name}') + dd").inner_text())


def _no_sideways_scroll(page: playwright_api.Page, url: str) -> None:
    page.goto(url)
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter("
        "e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.scroll'))"
        ".map(e => e.tagName + '.' + e.className).slice(0, 8)"
    )
    assert width <= PHONE["width"], f"{url}: {width}px wide at phone width: {wide}"


def test_the_first_hour(demo: dict[str, str]) -> None:
    """demo → sign-in → key → reload → two hosts over SCIM → the console agrees → phone."""
    console = demo["Console"].rstrip("/")
    email, password = demo["Sign in as"], demo["Password"].split()[0]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 800}, timezone_id=VIEWER_ZONE, locale="en-GB"
            )
            page = context.new_page()
            page.goto(f"{console}/")
            assert page.get_by_role("heading", name="Sign in").is_visible()
            page.get_by_label("E-mail").fill(email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{console}/")

            main = page.get_by_role("navigation", name="Main")
            main.get_by_role("link", name="Integrations", exact=True).click()
            page.wait_for_url(f"{console}{ENTRA}")
            crumbs = page.get_by_role("navigation", name="Breadcrumb").inner_text()
            assert re.sub(r"\s+", " ", crumbs).startswith("Integrations")
            assert "Host Synchronization" in crumbs and "Microsoft Entra ID" in crumbs
            tenant_url = page.get_by_test_id("tenant-url").input_value()
            assert tenant_url == f"{console}{SCIM_PREFIX}"
            page.get_by_label("Label").fill("Entra, first hour")
            page.get_by_role("button", name="Generate key").click()
            key = page.get_by_test_id("new-key").input_value()
            assert key.startswith("hsk_")
            row = page.locator("table.keys tbody tr", has_text="Entra, first hour")
            prefix = row.locator("code").inner_text().rstrip("…")
            assert key.startswith(prefix) and len(prefix) >= 8

            page.reload()
            assert page.get_by_test_id("new-key").count() == 0  # shown once only
            row = page.locator("table.keys tbody tr", has_text="Entra, first hour")
            assert row.count() == 1 and row.locator("code").inner_text() == f"{prefix}…"
            assert key not in page.content()

            scim = httpx.Client(
                base_url=tenant_url,
                headers={"Authorization": f"Bearer {key}", "User-Agent": "Azure AD SCIM"},
            )
            people = [
                ("chloe.dubois@contoso.com", "Chloé Dubois", "Front desk"),
                ("yuki.tanaka@contoso.com", "Yuki Tanaka", "Night desk"),
            ]
            ids = []
            for user_name, display, department in people:
                created = scim.post(
                    "/Users",
                    json={
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": user_name,
                        "displayName": display,
                        "emails": [{"value": user_name, "type": "work", "primary": True}],
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                            "department": department
                        },
                    },
                )
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            group = scim.post(
                "/Groups",
                json={"displayName": "Lobby", "members": [{"value": i} for i in ids]},
            )
            assert group.status_code == 201, group.text
            assert scim.get("/Users/no-such-host").status_code == 404
            scim.close()

            # The tiles agree with the failures table and the hosts page, once the request
            # counts are flushed (a timer, every few seconds, without further requests).
            deadline = time.monotonic() + 30
            while True:
                main.get_by_role("link", name="Sync status").click()
                failures = page.locator("h2:has-text('Latest failures') + div tbody tr").count()
                errors = _tile(page, "Request errors, last 24 h")
                if errors == failures == 1 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert errors == failures == 1
            assert _tile(page, "SCIM requests, last 24 h") == 4  # two hosts, a group, the 404
            assert _tile(page, "Active hosts") == 2
            assert _tile(page, "Groups") == 1
            main.get_by_role("link", name="Hosts", exact=True).click()
            assert page.locator("p.count").inner_text() == "2 hosts"
            assert page.locator("table tbody tr").count() == 2

            # Activity: names, search by person, chips, times in the viewer's zone.
            main.get_by_role("link", name="Activity", exact=True).click()
            lobby = page.locator("table.activity tbody tr", has_text="Lobby")
            assert "Members added: Chloé Dubois, Yuki Tanaka" in lobby.inner_text()
            stamp = page.locator("table.activity time").first
            utc = datetime.strptime(stamp.get_attribute("datetime") or "", "%Y-%m-%dT%H:%M:%SZ")
            local = utc.replace(tzinfo=UTC).astimezone(ZoneInfo(VIEWER_ZONE))
            assert stamp.get_attribute("title") == f"{utc:%Y-%m-%d %H:%M} UTC"  # UTC on hover
            assert f"{local:%H:%M}" in stamp.inner_text()
            assert "UTC" not in stamp.inner_text()
            page.get_by_label("Person").fill("tanaka")  # searched as one types
            page.wait_for_url(re.compile(r".*q=tanaka.*"))
            assert page.locator("p.count").inner_text().startswith("2 entries")  # create, group
            assert "chloe.dubois" not in page.locator("table.activity").inner_text()
            page.get_by_role("group", name="Operation").get_by_role("link", name="Created").click()
            assert page.locator("p.count").inner_text().startswith("2 entries")  # both creates
            page.get_by_role("group", name="Resource").get_by_role("link", name="Hosts").click()
            assert page.locator("p.count").inner_text().startswith("1 entry")
            assert (
                "q=tanaka" in page.url and "op=create" in page.url and "resource=User" in page.url
            )
            assert page.get_by_label("Person").input_value() == "tanaka"
            yuki = page.locator("table.activity tbody tr").first
            yuki.locator("summary").click()
            details = yuki.locator("details ul").inner_text()
            assert "Department: — → Night desk" in details
            assert "Work e-mail: — → yuki.tanaka@contoso.com" in details
            page.screenshot(path=str(SCREENSHOTS / "activity-search.png"), full_page=True)

            main.get_by_role("link", name="Hosts", exact=True).click()
            page.get_by_role("link", name="Chloé Dubois").click()
            facts = page.locator("table tbody").first.inner_text()
            assert "Department\tFront desk" in facts and "Work e-mail\tchloe.dubois" in facts

            phone = context.new_page()
            phone.set_viewport_size(PHONE)
            for path in (
                "/",
                ENTRA,
                "/hosts",
                f"/hosts/{ids[0]}",
                "/groups",
                "/activity",
                "/activity?q=chlo%C3%A9&op=create&resource=User&outcome=success",
                f"/activity?id={ids[1]}",
            ):
                _no_sideways_scroll(phone, f"{console}{path}")
        finally:
            browser.close()
