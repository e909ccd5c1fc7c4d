"""Post/Redirect/Get in the console: a form's result page can be reloaded without effect.

Generate, Rotate and Revoke answer 303 to the Entra page; the one-time key reaches that page
through a server-side flash tied to the session, read once, never in a URL or a cookie.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from hostsync.store.database import Database
from hostsync.store.tenants import ApiKey, create_tenant, list_keys
from tests.admin.conftest import csrf_of, sign_in

ENTRA = "/integrations/host-synchronization/entra"
KEYS = "/integrations/host-synchronization/keys"


@pytest.fixture
def tenant_id(database: Database) -> str:
    """A fresh tenant with a name of its own (tenant names are unique)."""
    with database.connect(write=True) as connection:
        return create_tenant(connection, f"Contoso {uuid.uuid4().hex[:8]}").id


def _shown_key(html: str) -> str | None:
    found = re.search(r'id="new-key"[^>]*value="([^"]+)"', html)
    return found.group(1) if found else None


async def _generate(http: httpx.AsyncClient) -> httpx.Response:
    page = await http.get(ENTRA)
    return await http.post(KEYS, data={"csrf": csrf_of(page.text), "label": "Entra"})


def _key_count(database: Database, tenant_id: str) -> int:
    with database.connect(write=False) as connection:
        return len(list_keys(connection, tenant_id))


async def test_generate_redirects_and_reload_mints_no_second_key(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """Generate answers 303 to the Entra page; reloading that page creates no key."""
    response = await _generate(signed_in)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == ENTRA
    assert "hsk_" not in response.headers["location"]
    assert not any("hsk_" in c for c in response.headers.get_list("set-cookie"))
    for _ in range(3):  # the reloads
        assert (await signed_in.get(ENTRA)).status_code == 200
    assert _key_count(database, tenant_id) == 1


async def test_new_key_is_shown_exactly_once(signed_in: httpx.AsyncClient) -> None:
    """The one-time key is on the first page after the redirect and on no later one."""
    await _generate(signed_in)
    first = await signed_in.get(ENTRA)
    key = _shown_key(first.text)
    assert key is not None and key.startswith("hsk_")
    assert first.headers["cache-control"] == "no-store"
    again = await signed_in.get(ENTRA)
    assert key not in again.text
    assert 'id="new-key"' not in again.text


async def test_flash_belongs_to_its_session(signed_in: httpx.AsyncClient, admin_email: str) -> None:
    """Another session of the same administrator never sees the key."""
    other = httpx.AsyncClient(transport=signed_in._transport, base_url="http://testserver")
    async with other:
        assert (await sign_in(other, admin_email)).status_code == 303
        await _generate(signed_in)
        assert 'id="new-key"' not in (await other.get(ENTRA)).text
        assert 'id="new-key"' in (await signed_in.get(ENTRA)).text


async def test_rotate_redirects_and_marks_the_old_key(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """Rotate answers 303; the next page marks the old key as replaced by the new one."""
    await _generate(signed_in)
    page = await signed_in.get(ENTRA)
    (old,) = _keys(database, tenant_id)
    response = await signed_in.post(f"{KEYS}/{old.id}/rotate", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == ENTRA
    shown = await signed_in.get(ENTRA)
    new = next(k for k in _keys(database, tenant_id) if k.id != old.id)
    row = re.search(rf'<tr data-key-id="{old.id}"[^>]*>.*?</tr>', shown.text, re.S)
    assert row is not None and 'class="replaced"' in row.group(0)
    assert f"replaced by {new.prefix}" in row.group(0)
    assert _key_count(database, tenant_id) == 2
    await signed_in.get(ENTRA)
    assert _key_count(database, tenant_id) == 2


async def test_revoke_redirects_and_revoked_keys_are_collapsed(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """Revoke answers 303; revoked keys sit in a closed "Revoked keys (N)" details element."""
    await _generate(signed_in)
    page = await signed_in.get(ENTRA)
    (key,) = _keys(database, tenant_id)
    response = await signed_in.post(f"{KEYS}/{key.id}/revoke", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303
    shown = (await signed_in.get(ENTRA)).text
    assert "Key revoked" in shown
    details = re.search(r"<details class=\"revoked\".*?</details>", shown, re.S)
    assert details is not None and "Revoked keys (1)" in details.group(0)
    assert f'data-key-id="{key.id}"' in details.group(0)
    assert "Key revoked" not in (await signed_in.get(ENTRA)).text


def _keys(database: Database, tenant_id: str) -> list[ApiKey]:
    with database.connect(write=False) as connection:
        return list(list_keys(connection, tenant_id))
