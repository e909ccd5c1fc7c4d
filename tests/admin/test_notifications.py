"""The Notifications page: channels saved sealed and shown masked, Send test, isolation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from hostsync.config import Settings
from hostsync.frontdesk.delivery.signing import verify
from hostsync.frontdesk.sealing import new_key
from hostsync.store.admin_tables import activity
from hostsync.store.admins import create_admin
from hostsync.store.database import Database
from hostsync.store.frontdesk.tables import frontdesk_settings
from hostsync.store.tenants import create_tenant
from tests.admin.conftest import PASSWORD, console_app, csrf_of, sign_in
from tests.frontdesk.servers import Receiver

KEY = new_key().decode()


@pytest.fixture
def settings() -> Settings:
    """A server key of the tests' own; loopback receivers allowed."""
    return Settings(
        key_cache_seconds=0, secret_key=KEY, webhook_private_addresses=True, outbox_worker=False
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


async def form(http: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    page = await http.get("/notifications")
    answer = await http.post(path, data={"csrf": csrf_of(page.text), **fields})
    assert answer.status_code == 303 and answer.headers["location"] == "/notifications"
    return await http.get("/notifications")


async def test_a_webhook_is_stored_sealed_shown_masked_and_its_secret_once(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, receiver: Receiver
) -> None:
    url = receiver.url("/hook/secret-path-1234")
    page = await form(signed_in, "/notifications/webhook", url=url)
    assert "secret-path" not in page.text
    assert "…1234" in page.text
    secret = page.text.split('data-testid="new-secret"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert secret.startswith("whsec_")
    again = await signed_in.get("/notifications")
    assert secret not in again.text  # shown once
    with database.connect(write=False) as connection:
        row = connection.execute(
            select(frontdesk_settings).where(frontdesk_settings.c.tenant_id == tenant_id)
        ).one()
    assert "secret-path" not in row.webhook_url and secret not in (row.webhook_secret or "")
    with database.connect(write=False) as connection:
        (audited,) = connection.execute(
            select(activity).where(
                activity.c.tenant_id == tenant_id, activity.c.resource_type == "Channel"
            )
        ).all()
    assert audited.operation == "create" and audited.resource_name.endswith("…1234)")
    assert "secret-path" not in audited.resource_name

    tested = await form(signed_in, "/notifications/webhook/test")
    assert "Test message sent to Webhook." in tested.text
    (request,) = receiver.requests
    assert verify(secret, request.headers["x-hostsync-signature"], request.body, time.time())
    assert json.loads(request.body)["type"] == "visit.checked_in"


@pytest.mark.parametrize(("channel", "shape"), [("teams", "attachments"), ("slack", "blocks")])
async def test_send_test_posts_the_channels_shape_and_reports_failures(
    signed_in: httpx.AsyncClient, receiver: Receiver, channel: str, shape: str
) -> None:
    await form(signed_in, f"/notifications/{channel}", url=receiver.url(f"/{channel}"))
    page = await form(signed_in, f"/notifications/{channel}/test")
    assert 'class="alert ok"' in page.text
    assert shape in json.loads(receiver.requests[0].body)
    receiver.status = 404
    failed = await form(signed_in, f"/notifications/{channel}/test")
    assert "failed: the receiver answered HTTP 404" in failed.text
    assert 'class="alert error"' in failed.text
    removed = await form(signed_in, f"/notifications/{channel}/remove")
    assert "removed" in removed.text and f'data-testid="{channel}-shown"' not in removed.text


async def test_bad_addresses_are_refused_and_nothing_is_stored(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    page = await form(signed_in, "/notifications/slack", url="ftp://example.com/x")
    assert "not saved" in page.text and "https://" in page.text
    with database.connect(write=False) as connection:
        assert (
            connection.execute(
                select(frontdesk_settings).where(frontdesk_settings.c.tenant_id == tenant_id)
            ).first()
            is None
        )
    unknown = await signed_in.post("/notifications/pager", data={"csrf": "x"})
    assert unknown.status_code in (403, 404)


async def test_private_addresses_are_refused_by_default(
    database: Database, tenant_id: str, admin_email: str
) -> None:
    strict = Settings(key_cache_seconds=0, secret_key=KEY, outbox_worker=False)
    app = console_app(database, strict)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        await sign_in(http, admin_email)
        for url in (
            "https://127.0.0.1/hook",
            "https://169.254.169.254/x",
            "http://hooks.example.com/x",
        ):
            page = await form(http, "/notifications/webhook", url=url)
            assert "not saved" in page.text


async def test_another_tenants_admin_sees_and_tests_nothing_of_this_tenant(
    signed_in: httpx.AsyncClient, database: Database, settings: Settings, receiver: Receiver
) -> None:
    await form(signed_in, "/notifications/teams", url=receiver.url("/contoso-only"))
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        create_admin(connection, other, f"admin-{other}@example.com", PASSWORD)
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        await sign_in(http, f"admin-{other}@example.com")
        page = await http.get("/notifications")
        assert "contoso-only" not in page.text and 'data-testid="teams-shown"' not in page.text
        tested = await form(http, "/notifications/teams/test")
        assert "not set up" in tested.text
        await form(http, "/notifications/teams/remove")
    assert receiver.requests == []
    still = await signed_in.get("/notifications")
    assert 'data-testid="teams-shown"' in still.text


async def test_signed_out_visitors_are_sent_to_sign_in(browser: httpx.AsyncClient) -> None:
    answer = await browser.get("/notifications")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
