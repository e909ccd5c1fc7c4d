"""Browser test of the Single Sign-On page: Playwright drives Debian's Chromium.

An administrator finds the page from Integrations, copies a value for Entra, uploads the
Federation Metadata XML the test IdP (tests/sso/idp.py) writes, and sees the issuer and the
certificate's expiry; a file that is not metadata is refused with the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import playwright.sync_api as playwright_api
import pytest
import uvicorn

from hostsync.config import Settings
from hostsync.store.database import Database
from tests.admin.conftest import PASSWORD, console_app
from tests.admin.test_browser import ARGS, CHROMIUM, SCREENSHOTS
from tests.live_server import free_port
from tests.sso.idp import EntraIdp, key_pair


@pytest.fixture
def live_server(database: Database) -> Iterator[str]:
    """The app served by uvicorn in a thread; its public URL is its own loopback address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(key_cache_seconds=0, request_count_flush_seconds=0, public_url=url)
    server = uvicorn.Server(
        uvicorn.Config(
            console_app(database, settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_admin_uploads_entras_metadata_and_sees_the_idp(
    live_server: str, admin_email: str, tenant_id: str, tmp_path: Path
) -> None:
    entra = EntraIdp(key_pair())
    metadata = tmp_path / "hostsync.xml"
    metadata.write_bytes(entra.metadata())
    broken = tmp_path / "not-metadata.xml"
    broken.write_bytes(b"<html><body>Sign in</body></html>")
    expiry = entra.keys.certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                permissions=["clipboard-read", "clipboard-write"],
            )
            page = context.new_page()
            page.goto(f"{live_server}/")
            page.get_by_label("E-mail").fill(admin_email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server}/")
            nav = page.get_by_role("navigation", name="Main")
            nav.get_by_role("link", name="Integrations", exact=True).click()
            page.get_by_role("link", name="Single Sign-On").click()
            heading = page.get_by_role("heading", name="Single sign-on: Microsoft Entra ID")
            assert heading.is_visible()
            entity = f"{live_server}/saml/{tenant_id}"
            assert page.get_by_label("Identifier (Entity ID)", exact=True).input_value() == entity
            assert page.get_by_label("Sign on URL", exact=True).input_value() == f"{entity}/login"
            copy = page.get_by_role(
                "button", name="Copy Reply URL (Assertion Consumer Service URL)"
            )
            copy.click()
            playwright_api.expect(copy).to_have_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == f"{entity}/acs"
            assert page.get_by_test_id("idp-none").is_visible()

            page.get_by_label("Metadata file").set_input_files(str(broken))
            page.get_by_role("button", name="Save identity provider").click()
            assert "not SAML metadata" in page.get_by_test_id("problem").inner_text()
            assert page.get_by_test_id("idp-none").is_visible()

            page.get_by_label("Metadata file").set_input_files(str(metadata))
            page.get_by_role("button", name="Save identity provider").click()
            assert entra.entity_id in page.get_by_test_id("notice").inner_text()
            assert page.get_by_test_id("idp-issuer").inner_text() == entra.entity_id
            shown = page.get_by_test_id("idp-expiry").locator("time")
            assert shown.get_attribute("title") == expiry
            test_link = page.get_by_role("link", name="Test single sign-on")
            assert test_link.get_attribute("href") == f"{entity}/login"
            page.screenshot(path=str(SCREENSHOTS / "sso.png"), full_page=True)
        finally:
            browser.close()
