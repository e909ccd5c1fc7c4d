"""Browser test of the Notifications page: Playwright drives Debian's Chromium.

An administrator sets up a generic webhook, copies its signing secret (shown once), sends a
test that a real receiver verifies, then sets up Slack against a receiver that refuses and
sees the failure.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import playwright.sync_api as playwright_api
import pytest
import uvicorn

from hostsync.config import Settings
from hostsync.frontdesk.delivery.signing import verify
from hostsync.frontdesk.sealing import new_key
from hostsync.store.database import Database
from tests.admin.conftest import PASSWORD, console_app
from tests.admin.test_browser import ARGS, CHROMIUM, SCREENSHOTS
from tests.frontdesk.servers import Receiver
from tests.live_server import free_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def live_server(database: Database) -> Iterator[str]:
    """The app served by uvicorn in a thread, with a server key and loopback webhooks."""
    settings = Settings(
        key_cache_seconds=0,
        request_count_flush_seconds=0,
        secret_key=new_key().decode(),
        webhook_private_addresses=True,
        outbox_worker=False,
    )
    port = free_port()
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
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_admin_sets_up_a_signed_webhook_and_tests_channels(
    live_server: str, admin_email: str, receiver: Receiver
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_server}/")
            page.get_by_label("E-mail").fill(admin_email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{live_server}/")
            nav = page.get_by_role("navigation", name="Main")
            nav.get_by_role("link", name="Notifications", exact=True).click()
            assert page.get_by_role("heading", name="Notifications", exact=True).is_visible()
            assert page.get_by_text("E-mail is not configured").is_visible()

            page.get_by_label("Webhook URL").fill(receiver.url("/hooks/hostsync-7f3a"))
            page.get_by_test_id("channel-webhook").get_by_role("button", name="Save").click()
            secret = page.get_by_test_id("new-secret").input_value()
            assert secret.startswith("whsec_")
            assert page.get_by_test_id("webhook-shown").inner_text().endswith("7f3a")
            assert "hooks/hostsync" not in page.content()
            page.screenshot(path=str(SCREENSHOTS / "notifications.png"), full_page=True)
            page.reload()
            assert page.get_by_test_id("new-secret").count() == 0

            page.get_by_role("button", name="Send test to Webhook").click()
            assert "Test message sent to Webhook." in page.get_by_test_id("notice").inner_text()
            (request,) = receiver.requests
            assert verify(
                secret, request.headers["x-hostsync-signature"], request.body, time.time()
            )
            assert json.loads(request.body)["id"] == request.headers["idempotency-key"]

            receiver.status = 500
            page.get_by_label("Slack URL").fill(receiver.url("/slack"))
            page.get_by_test_id("channel-slack").get_by_role("button", name="Save").click()
            page.get_by_role("button", name="Send test to Slack").click()
            notice = page.get_by_role("alert")
            assert "failed: the receiver answered HTTP 500" in notice.inner_text()
        finally:
            browser.close()
