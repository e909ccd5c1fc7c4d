"""The kiosk page in Debian's Chromium (Playwright), against a live server on loopback.

A tablet (1280x800) and a phone (390x844). Hosts are provisioned over SCIM with an API key,
the kiosk is paired by opening its link, and everything a visitor does is done with the
keyboard (the page must work without a mouse). Screenshots for the README are written to
docs/screenshots/ when HOSTSYNC_SCREENSHOTS=1 (tests/admin/test_browser.py).

The host-search test needs ``GET /v1/kiosk/hosts`` (web/kiosk/search.py, branch ``search``):
it is skipped only while the application has no such route.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import playwright.sync_api as playwright_api
import pytest
import uvicorn
from playwright.sync_api import Page, expect

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.frontdesk.sites import Site
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import create_kiosk
from hostsync.store.frontdesk.visits import on_site
from hostsync.web.app import create_app
from tests.admin.test_browser import ARGS, CHROMIUM, SCREENSHOTS
from tests.frontdesk.servers import SmtpServer
from tests.live_server import free_port

IDLE_SECONDS = 3
TABLET = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _release_thread_connections(database: Database) -> Iterator[None]:
    yield
    database.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a loopback port, keeping what it receives."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def live_app(database: Database, smtp: SmtpServer) -> Iterator[tuple[str, Any]]:
    """The app served by uvicorn in a thread on a free loopback port; (root URL, app).

    It sends its notifications through :func:`smtp` (the outbox worker runs in the server).
    """
    settings = Settings(
        key_cache_seconds=0,
        kiosk_idle_seconds=IDLE_SECONDS,
        request_count_flush_seconds=0,
        smtp_url=smtp.url,
        mail_from="front-desk@contoso.example",
        outbox_poll_seconds=0.2,
    )
    app = create_app(settings, database)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def link(database: Database, site: Site) -> str:
    """The kiosk's link path (``/kiosk/<secret>``)."""
    with database.connect(write=True) as connection:
        return "/kiosk/" + create_kiosk(connection, site.tenant_id, site.id, "Lobby tablet")[1]


def watch(page: Page) -> list[str]:
    """Console errors and page errors (a CSP violation is one) collected as they happen."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def check_layout(page: Page, width: int) -> None:
    """Every visible control is a touch target of 48 px or more; nothing scrolls sideways."""
    small = page.evaluate(
        "Array.from(document.querySelectorAll('input, button, [role=option]'))"
        ".filter(e => e.offsetParent !== null)"
        ".map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect()])"
        ".filter(([, r]) => r.height < 48 || r.width < 48).map(([n]) => n)"
    )
    assert small == [], f"touch targets under 48 px: {small}"
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"sideways scroll at {width}px: {scroll}px"


def check_in_by_keyboard(page: Page, name: str, company: str, host_letters: str) -> None:
    """Fill the form and open the picker, with the keyboard only."""
    page.get_by_label("Full name (required)").focus()
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(company)
    page.keyboard.press("Tab")  # E-mail, left empty
    page.keyboard.press("Tab")
    combobox = page.get_by_role("combobox", name="Who are you visiting?")
    expect(combobox).to_be_focused()
    page.keyboard.type(host_letters)


def pick_active(page: Page) -> str:
    """Press Enter on the option the combobox points at; return that option's text."""
    combobox = page.get_by_role("combobox", name="Who are you visiting?")
    active = combobox.get_attribute("aria-activedescendant")
    assert active, "no active option"
    option = page.locator(f"#{active}")
    assert option.get_attribute("role") == "option"
    text = option.inner_text()
    page.keyboard.press("Enter")
    expect(combobox).to_have_attribute("aria-expanded", "false")
    return text


def activate(page: Page, name: str) -> None:
    """Press the down arrow until the option named ``name`` is the active one."""
    combobox = page.get_by_role("combobox", name="Who are you visiting?")
    for _ in range(12):
        page.keyboard.press("ArrowDown")
        active = combobox.get_attribute("aria-activedescendant")
        if active and page.locator(f"#{active}").inner_text().startswith(name):
            return
    raise AssertionError(f"no option {name!r}")


def check_out_by_keyboard(page: Page, letters: str, name: str) -> None:
    """Check out, find yourself by name, confirm: keyboard only."""
    page.get_by_role("button", name="Check out").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check out")).to_be_visible()
    expect(page.get_by_label("Your full name")).to_be_focused()
    page.keyboard.type(letters)
    mine = page.get_by_role("button", name=name)
    expect(mine).to_be_visible()
    mine.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Check out {name}?")).to_be_visible()
    page.get_by_role("button", name="Check out", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Goodbye, {name}")).to_be_visible()


def on_site_names(database: Database, site: Site) -> list[str | None]:
    with database.connect(write=False) as connection:
        return [v.visitor_name for v in on_site(connection, site.tenant_id, site.id)]


def test_kiosk_front_desk_check_in_idle_and_check_out(
    live_app: tuple[str, Any], link: str, database: Database, site: Site
) -> None:
    """Pairing, the form and its errors, the front-desk option, idle return, check-out."""
    root, _ = live_app
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport=TABLET)
            unpaired = page.goto(f"{root}/kiosk")
            assert unpaired is not None and unpaired.status == 401
            expect(page.get_by_role("heading", name="Kiosk not paired")).to_be_visible()
            problems = watch(page)

            page.goto(f"{root}{link}")
            assert page.url == f"{root}/kiosk"  # the secret left the address bar
            expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
            for label in ("Full name (required)", "Company", "E-mail"):
                expect(page.get_by_label(label)).to_be_visible()
            combobox = page.get_by_role("combobox", name="Who are you visiting?")
            expect(combobox).to_have_attribute("aria-expanded", "false")
            expect(combobox).to_have_attribute("aria-controls", "host-options")
            check_layout(page, TABLET["width"])
            page.screenshot(path=str(SCREENSHOTS / "kiosk-start.png"))

            # Check in without a name, then without a host: each says what to do.
            page.get_by_role("button", name="Check in").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_text("Enter your full name.")).to_be_visible()
            expect(page.get_by_label("Full name (required)")).to_be_focused()
            expect(page.get_by_label("Full name (required)")).to_have_attribute(
                "aria-invalid", "true"
            )
            page.keyboard.type("Grace Hopper")
            page.get_by_role("button", name="Check in").focus()
            page.keyboard.press("Enter")
            expect(page.get_by_text("Pick the person you are visiting")).to_be_visible()
            expect(combobox).to_be_focused()

            # The picker offers "Front desk / I don't know" before any letter is typed.
            page.keyboard.press("ArrowDown")
            expect(combobox).to_have_attribute("aria-expanded", "true")
            assert pick_active(page) == "Front desk / I don't know"
            check_layout(page, TABLET["width"])
            page.keyboard.press("Tab")
            expect(page.get_by_role("button", name="Check in")).to_be_focused()
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Thank you, Grace Hopper")).to_be_visible()
            expect(page.get_by_text("The front desk has been notified")).to_be_visible()
            assert on_site_names(database, site) == ["Grace Hopper"]

            # Left alone, the kiosk returns to its start screen, the form empty.
            expect(page.get_by_role("heading", name="Welcome")).to_be_visible(
                timeout=(IDLE_SECONDS + 3) * 1000
            )
            expect(page.get_by_label("Full name (required)")).to_have_value("")
            expect(combobox).to_have_value("")

            # Half-typed and abandoned: cleared too.
            page.get_by_label("Full name (required)").fill("Someone Else")
            expect(page.get_by_label("Full name (required)")).to_have_value(
                "", timeout=(IDLE_SECONDS + 3) * 1000
            )

            check_out_by_keyboard(page, "grac", "Grace Hopper")
            assert on_site_names(database, site) == []
            expect(page.get_by_role("heading", name="Welcome")).to_be_visible(
                timeout=(IDLE_SECONDS + 3) * 1000
            )
            assert problems == []

            phone = browser.new_page(viewport=PHONE)
            phone.context.add_cookies(page.context.cookies())
            phone_problems = watch(phone)
            phone.goto(f"{root}/kiosk")
            expect(phone.get_by_role("heading", name="Welcome")).to_be_visible()
            check_layout(phone, PHONE["width"])
            phone.get_by_role("combobox", name="Who are you visiting?").focus()
            phone.keyboard.press("ArrowDown")
            check_layout(phone, PHONE["width"])
            phone.get_by_role("button", name="Check out").click()
            expect(phone.get_by_label("Your full name")).to_be_visible()
            check_layout(phone, PHONE["width"])
            assert phone_problems == []
        finally:
            browser.close()


def scim(root: str, api_key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{root}{SCIM_PREFIX}", headers={"Authorization": f"Bearer {api_key}"}
    )


def wait_for_mail(smtp: SmtpServer, count: int, seconds: float = 15) -> list[Any]:
    """The messages the SMTP server took once there are ``count`` (fails after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        with smtp.mailbox.lock:
            taken = list(smtp.mailbox.messages)
        if len(taken) >= count or time.monotonic() > deadline:
            return taken
        time.sleep(0.1)


def test_kiosk_finds_a_host_checks_in_and_forgets_a_deactivated_host(
    live_app: tuple[str, Any],
    link: str,
    api_key: str,
    database: Database,
    site: Site,
    smtp: SmtpServer,
) -> None:
    """SCIM-provisioned hosts in the picker; a host Entra deactivates is offered no more."""
    root, _ = live_app
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with scim(root, api_key) as http:
        ids = {}
        for given, family in (("José", "Núñez"), ("Joseph", "Okafor"), ("Ann", "Lee")):
            created = http.post(
                "/Users",
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"{given.lower()}.{family.lower()}@contoso.example",
                    "displayName": f"{given} {family}",
                    "name": {"givenName": given, "familyName": family},
                    "emails": [
                        {
                            "value": f"{family.lower()}@contoso.example",
                            "type": "work",
                            "primary": True,
                        }
                    ],
                    "active": True,
                },
            )
            assert created.status_code == 201, created.text
            ids[given] = created.json()["id"]
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport=TABLET)
            problems = watch(page)
            page.goto(f"{root}{link}")
            check_in_by_keyboard(page, "Ada Lovelace", "Analytical Engines", "jos")
            combobox = page.get_by_role("combobox", name="Who are you visiting?")
            listbox = page.get_by_role("listbox")
            expect(listbox.get_by_role("option", name="José Núñez")).to_be_visible()
            expect(listbox.get_by_role("option", name="Joseph Okafor")).to_be_visible()
            expect(listbox.get_by_role("option", name="Ann Lee")).to_have_count(0)
            expect(listbox.get_by_role("option", name="Front desk / I don't know")).to_be_visible()
            check_layout(page, TABLET["width"])
            page.keyboard.press("ArrowDown")
            page.screenshot(path=str(SCREENSHOTS / "kiosk-picker.png"))
            # A tap elsewhere closes the list and lands where it was aimed: nothing moves.
            page.get_by_label("Company").click()
            expect(page.get_by_label("Company")).to_be_focused()
            expect(combobox).to_have_attribute("aria-expanded", "false")
            combobox.focus()
            expect(combobox).to_have_attribute("aria-expanded", "true")
            activate(page, "José Núñez")
            assert pick_active(page).startswith("José Núñez")
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            expect(page.get_by_role("heading", name="Thank you, Ada Lovelace")).to_be_visible()
            expect(page.get_by_text("José Núñez has been notified")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "kiosk-confirmation.png"))
            # The host's e-mail arrives through the outbox, once, and names the visitor.
            mail = wait_for_mail(smtp, 1)
            assert [m["To"] for m in mail] == ["núñez@contoso.example"]
            assert "Ada Lovelace" in mail[0].get_body(("plain",)).get_content()
            expect(page.get_by_role("heading", name="Welcome")).to_be_visible(
                timeout=(IDLE_SECONDS + 3) * 1000
            )

            with scim(root, api_key) as http:
                patched = http.patch(
                    f"/Users/{ids['José']}",
                    json={
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "active", "value": False}],
                    },
                )
                assert patched.status_code in (200, 204), patched.text
            page.get_by_role("combobox", name="Who are you visiting?").focus()
            page.keyboard.type("jos")
            expect(listbox.get_by_role("option", name="Joseph Okafor")).to_be_visible()
            expect(listbox.get_by_role("option", name="José Núñez")).to_have_count(0)
            page.keyboard.press("Escape")

            check_out_by_keyboard(page, "ada", "Ada Lovelace")
            assert on_site_names(database, site) == []
            assert problems == []
        finally:
            browser.close()
