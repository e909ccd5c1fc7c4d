"""Front desk > Sites in the console: list, create, settings, hosts offered, kiosks; refusals.

Every form is checked three ways: it does what it says (and leaves an activity row), bad input
shows the form again with a clear message and writes nothing, and another tenant's ids answer
404 and change nothing.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from hostsync.config import Settings
from hostsync.store.activity.queries import ActivityFilter, page
from hostsync.store.admin_tables import activity
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import (
    list_kiosks,
    list_sites,
    revoke_kiosk,
    set_site_groups,
    update_site,
)
from hostsync.web.app import create_app
from tests.admin.frontdesk import (
    alert,
    new_group,
    new_kiosk,
    new_site,
    other_tenant,
    post,
    reload_site,
    token,
    visit,
)
from tests.frontdesk.conftest import make_host

ENTERPRISE_DIVISION = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division"


def audited(database: Database, tenant_id: str, resource_type: str) -> list[tuple[str, str]]:
    """(operation, detail) of the tenant's activity rows about a resource type, oldest first."""
    with database.connect(write=False) as connection:
        rows = connection.execute(
            select(activity.c.operation, activity.c.detail)
            .where(activity.c.tenant_id == tenant_id, activity.c.resource_type == resource_type)
            .order_by(activity.c.pk)
        ).all()
    return [(row.operation, row.detail or "") for row in rows]


def site_names(database: Database, tenant_id: str) -> list[str]:
    with database.connect(write=False) as connection:
        return [s.name for s in list_sites(connection, tenant_id)]


async def test_the_sites_page_lists_counts_and_the_nav_links(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    empty = await signed_in.get("/sites")
    assert empty.status_code == 200
    assert "No sites yet" in empty.text
    for link in ('href="/sites"', 'href="/visits"', 'href="/on-site"'):
        assert link in empty.text
    paris = new_site(database, tenant_id)
    new_site(database, tenant_id, "Lyon", "Europe/Paris")
    new_kiosk(database, paris)
    revoked = new_kiosk(database, paris, "Old")
    with database.connect(write=True) as connection:
        revoke_kiosk(connection, tenant_id, revoked)
    visit(database, paris, "Ada Lovelace")
    visit(database, paris, "Grace Hopper")
    listed = await signed_in.get("/sites")
    row = listed.text.split(f'href="/sites/{paris.id}"')[1].split("</tr>")[0]
    # name, zone, live kiosks (the revoked one not counted), visitors on site
    assert "Paris HQ" in row and "Europe/Paris" in row
    assert "<td>1</td>" in row
    assert ">2</a>" in row
    assert listed.text.index("Lyon") < listed.text.index("Paris HQ")  # by name


async def test_create_a_site_then_its_page_and_an_audit_row(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    created = await post(
        signed_in, "/sites", "/sites", {"name": "  Paris   HQ ", "timezone": "Europe/Paris"}
    )
    assert created.status_code == 303
    with database.connect(write=False) as connection:
        (site,) = list_sites(connection, tenant_id)
    assert (site.name, site.timezone) == ("Paris HQ", "Europe/Paris")
    assert created.headers["location"] == f"/sites/{site.id}"
    shown = await signed_in.get(created.headers["location"])
    assert "Site “Paris HQ” created" in shown.text
    assert "Every active host of your directory" in shown.text
    assert audited(database, tenant_id, "Site") == [("create", "time zone Europe/Paris")]
    again = await signed_in.get(created.headers["location"])
    assert "created" not in again.text.split("<h1")[1].split("</h1>")[1][:200]  # flash read once


@pytest.mark.parametrize(
    ("name", "zone", "message"),
    [
        ("Paris", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'"),
        ("", "UTC", "A site needs a name"),
        ("x" * 201, "UTC", "at most 200 characters"),
    ],
)
async def test_a_bad_new_site_shows_the_form_again_and_writes_nothing(
    signed_in: httpx.AsyncClient,
    database: Database,
    tenant_id: str,
    name: str,
    zone: str,
    message: str,
) -> None:
    refused = await post(signed_in, "/sites", "/sites", {"name": name, "timezone": zone})
    assert refused.status_code == 422
    assert message in alert(refused.text)
    assert f'value="{zone}"' in refused.text  # what was typed is kept
    assert site_names(database, tenant_id) == []
    assert audited(database, tenant_id, "Site") == []


async def test_a_duplicate_site_name_is_refused(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    new_site(database, tenant_id, "Paris HQ")
    refused = await post(signed_in, "/sites", "/sites", {"name": "paris hq", "timezone": "UTC"})
    assert refused.status_code == 422
    assert "exists" in alert(refused.text)
    assert site_names(database, tenant_id) == ["Paris HQ"]


async def test_save_every_setting(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    saved = await post(
        signed_in,
        f"/sites/{site.id}",
        f"/sites/{site.id}",
        {
            "name": "Paris Opéra",
            "timezone": "America/New_York",
            "end_of_day": "18:30",
            "privacy": "initial",
            "detail": "department",
            "fallback_recipients": "desk@contoso.example\r\n\r\n guard@contoso.example \n"
            "DESK@contoso.example",
        },
    )
    assert saved.status_code == 303
    stored = reload_site(database, site)
    assert (stored.name, stored.timezone, stored.end_of_day) == (
        "Paris Opéra",
        "America/New_York",
        "18:30",
    )
    assert (stored.privacy, stored.detail) == ("initial", "department")
    assert stored.fallback_recipients == ("desk@contoso.example", "guard@contoso.example")
    page_ = await signed_in.get(f"/sites/{site.id}")
    assert "Settings saved." in page_.text
    assert 'value="18:30"' in page_.text
    assert "desk@contoso.example\nguard@contoso.example</textarea>" in page_.text
    ((operation, detail),) = audited(database, tenant_id, "Site")
    assert operation == "update"
    assert detail == (
        "changed: name, time zone, end of day, privacy mode, detail shown, fallback recipients"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Europe/Atlantis", "Unknown time zone 'Europe/Atlantis'"),
        ("end_of_day", "25:00", "End of day '25:00' is not a time like 18:30"),
        ("end_of_day", "6pm", "is not a time like 18:30"),
        ("fallback_recipients", "desk@contoso.example\nnot-an-address", "'not-an-address' is not"),
        ("privacy", "everything", "Choose one of the privacy modes"),
        ("detail", "salary", "Choose what is shown beside"),
        ("name", "   ", "A site needs a name"),
    ],
)
async def test_a_bad_setting_shows_the_form_again_and_changes_nothing(
    signed_in: httpx.AsyncClient,
    database: Database,
    tenant_id: str,
    field: str,
    value: str,
    message: str,
) -> None:
    site = new_site(database, tenant_id)
    form = {
        "name": "Renamed",
        "timezone": "UTC",
        "end_of_day": "18:00",
        "privacy": "exact",
        "detail": "",
        "fallback_recipients": "desk@contoso.example",
        field: value,
    }
    refused = await post(signed_in, f"/sites/{site.id}", f"/sites/{site.id}", form)
    assert refused.status_code == 422
    assert message in alert(refused.text)
    assert 'value="Renamed"' in refused.text or field == "name"  # the typed values are kept
    assert reload_site(database, site) == site  # nothing half-written: not even the name
    assert audited(database, tenant_id, "Site") == []


async def test_map_groups_and_an_attribute_rule_one_at_a_time(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    host = make_host(database, tenant_id, "Ada", "Lovelace")
    lobby = new_group(database, tenant_id, "Lobby hosts", [host])
    sales = new_group(database, tenant_id, "Sales")
    url = f"/sites/{site.id}"
    page_ = await signed_in.get(url)
    assert f'<option value="{lobby}">Lobby hosts</option>' in page_.text
    assert (await post(signed_in, url, f"{url}/groups", {"group": lobby})).status_code == 303
    assert (await post(signed_in, url, f"{url}/groups", {"group": sales})).status_code == 303
    assert set(reload_site(database, site).group_ids) == {lobby, sales}
    shown = await signed_in.get(url)
    assert "The active members of these groups" in shown.text
    assert 'aria-label="Remove group Sales"' in shown.text
    assert f'<option value="{lobby}">' not in shown.text  # a mapped group is not offered again

    removed = await post(signed_in, url, f"{url}/groups/{sales}/remove", {})
    assert removed.status_code == 303
    assert reload_site(database, site).group_ids == (lobby,)

    ruled = await post(
        signed_in,
        url,
        f"{url}/rule",
        {
            "attribute": ENTERPRISE_DIVISION.replace("division", "DIVISION"),  # canonical kept
            "value": "Paris",
        },
    )
    assert ruled.status_code == 303
    stored = reload_site(database, site)
    assert (stored.match_attribute, stored.match_value, stored.group_ids) == (
        ENTERPRISE_DIVISION,
        "Paris",
        (),
    )
    notice = await signed_in.get(url)
    assert "The groups were removed" in notice.text
    assert f"<code>{ENTERPRISE_DIVISION}</code> is “Paris”" in notice.text

    assert (await post(signed_in, url, f"{url}/groups", {"group": sales})).status_code == 303
    stored = reload_site(database, site)
    assert (stored.match_attribute, stored.group_ids) == (None, (sales,))
    assert "The attribute rule was removed" in (await signed_in.get(url)).text

    cleared = await post(signed_in, url, f"{url}/groups/{sales}/remove", {})
    assert cleared.status_code == 303
    assert "every active host is offered" in (await signed_in.get(url)).text
    operations = [op for op, _ in audited(database, tenant_id, "Site")]
    assert operations == ["map-group", "map-group", "unmap-group", "update", "map-group",
                          "unmap-group"]  # fmt: skip


async def test_a_rule_can_be_removed(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    with database.connect(write=True) as connection:
        update_site(connection, tenant_id, site.id, match_attribute="title", match_value="X")
    url = f"/sites/{site.id}"
    cleared = await post(signed_in, url, f"{url}/rule", {"action": "clear"})
    assert cleared.status_code == 303
    stored = reload_site(database, site)
    assert (stored.match_attribute, stored.match_value) == (None, None)


@pytest.mark.parametrize(
    ("attribute", "value", "message"),
    [
        ("no such thing", "Paris", "is not a SCIM attribute path"),
        ("favouriteColour", "blue", "Hosts have no attribute 'favouriteColour'"),
        ("name", "Ada", "has sub-attributes"),
        (ENTERPRISE_DIVISION, "  ", "needs the value"),
        ("", "Paris", "An attribute rule needs an attribute path"),
        ("urn:example:nope:division", "Paris", "Unknown schema"),
    ],
)
async def test_a_bad_rule_is_refused_and_the_groups_stay(
    signed_in: httpx.AsyncClient,
    database: Database,
    tenant_id: str,
    attribute: str,
    value: str,
    message: str,
) -> None:
    site = new_site(database, tenant_id)
    group = new_group(database, tenant_id, "Lobby hosts")
    url = f"/sites/{site.id}"
    await post(signed_in, url, f"{url}/groups", {"group": group})
    refused = await post(signed_in, url, f"{url}/rule", {"attribute": attribute, "value": value})
    assert refused.status_code == 422
    assert message in alert(refused.text)
    stored = reload_site(database, site)
    assert (stored.match_attribute, stored.group_ids) == (None, (group,))


async def test_a_custom_extension_path_is_kept_as_a_rule(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    path = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User:site"
    url = f"/sites/{site.id}"
    assert (
        await post(signed_in, url, f"{url}/rule", {"attribute": path, "value": "Paris"})
    ).status_code == 303
    assert reload_site(database, site).match_attribute == path


async def test_a_group_of_another_tenant_cannot_be_mapped(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    foreign = new_group(database, other_tenant(database), "Their hosts")
    assert "Their hosts" not in (await signed_in.get(f"/sites/{site.id}")).text
    url = f"/sites/{site.id}"
    refused = await post(signed_in, url, f"{url}/groups", {"group": foreign})
    assert refused.status_code == 422
    assert "This tenant has no group" in alert(refused.text)
    assert reload_site(database, site).group_ids == ()
    empty = await post(signed_in, url, f"{url}/groups", {"group": ""})
    assert empty.status_code == 422
    assert "Choose a group" in alert(empty.text)


async def test_a_kiosk_link_is_shown_once_and_pairs_then_revoke_stops_it(
    signed_in: httpx.AsyncClient, database: Database, settings: Settings, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    url = f"/sites/{site.id}"
    created = await post(signed_in, url, f"{url}/kiosks", {"label": "Front lobby"})
    assert created.status_code == 303
    assert created.headers["location"] == f"{url}#kiosks"
    shown = await signed_in.get(url)
    assert shown.headers["cache-control"] == "no-store"
    link = shown.text.split('data-testid="new-kiosk-link"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert link.startswith("http://testserver/kiosk/hsk_kiosk_")
    secret = link.rsplit("/", 1)[1]
    with database.connect(write=False) as connection:
        (kiosk,) = list_kiosks(connection, tenant_id, site.id)
    assert kiosk.label == "Front lobby" and secret.startswith(kiosk.prefix)
    assert f"<code>/kiosk/{kiosk.prefix}…</code>" in shown.text
    again = await signed_in.get(url)
    assert secret not in again.text  # shown once
    assert "never" in again.text  # not seen yet

    paired = await signed_in.get(f"/kiosk/{secret}")
    assert paired.status_code == 303

    revoked = await post(signed_in, url, f"{url}/kiosks/{kiosk.id}/revoke", {})
    assert revoked.status_code == 303
    with database.connect(write=False) as connection:
        (kiosk,) = list_kiosks(connection, tenant_id, site.id)
    assert kiosk.revoked_at is not None
    assert "Kiosk revoked" in (await signed_in.get(url)).text
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, database)),
        base_url="http://testserver",
    ) as kiosk_client:
        unpaired = await kiosk_client.get(
            "/v1/kiosk/settings", headers={"Authorization": f"Bearer {secret}"}
        )
    assert unpaired.status_code == 401
    assert [op for op, _ in audited(database, tenant_id, "Kiosk")] == ["create", "revoke"]
    with database.connect(write=False) as connection:
        _, entries = page(connection, tenant_id, ActivityFilter(resource_id=kiosk.id))
    assert all(secret not in (e.resource_name or "") + (e.detail or "") for e in entries)


async def test_a_kiosk_label_too_long_is_refused(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    url = f"/sites/{site.id}"
    refused = await post(signed_in, url, f"{url}/kiosks", {"label": "x" * 300})
    assert refused.status_code == 400  # capped before use (forms.FIELD_LIMITS)
    with database.connect(write=False) as connection:
        assert list_kiosks(connection, tenant_id, site.id) == []


async def test_another_tenants_sites_and_kiosks_are_not_found(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    mine = new_site(database, tenant_id, "Mine")
    theirs = new_site(database, other_tenant(database), "Theirs")
    their_kiosk = new_kiosk(database, theirs)
    their_group = new_group(database, theirs.tenant_id, "Their group")
    with database.connect(write=True) as connection:
        theirs = set_site_groups(connection, theirs.tenant_id, theirs.id, [their_group])
    listed = await signed_in.get("/sites")
    assert "Theirs" not in listed.text and theirs.id not in listed.text
    assert (await signed_in.get(f"/sites/{theirs.id}")).status_code == 404
    csrf = await token(signed_in)
    attempts = {
        f"/sites/{theirs.id}": {"name": "Taken", "timezone": "UTC"},
        f"/sites/{theirs.id}/groups": {"group": their_group},
        f"/sites/{theirs.id}/groups/{their_group}/remove": {},
        f"/sites/{theirs.id}/rule": {"attribute": "title", "value": "x"},
        f"/sites/{theirs.id}/kiosks": {"label": "Mine now"},
        f"/sites/{theirs.id}/kiosks/{their_kiosk}/revoke": {},
        f"/sites/{mine.id}/kiosks/{their_kiosk}/revoke": {},
        f"/sites/{mine.id}/groups/{their_group}/remove": {},
    }
    for action, data in attempts.items():
        response = await signed_in.post(action, data={"csrf": csrf, **data})
        assert response.status_code == 404, action
        assert "There is nothing here for your tenant." in response.text
    assert reload_site(database, theirs) == theirs
    with database.connect(write=False) as connection:
        (kiosk,) = list_kiosks(connection, theirs.tenant_id)
    assert kiosk.revoked_at is None
    assert audited(database, tenant_id, "Kiosk") == audited(database, tenant_id, "Site") == []


async def test_site_forms_need_the_csrf_token_and_the_same_origin(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    kiosk = new_kiosk(database, site)
    csrf = await token(signed_in)
    forms = {
        "/sites": {"name": "Forged", "timezone": "UTC"},
        f"/sites/{site.id}": {"name": "Forged", "timezone": "UTC"},
        f"/sites/{site.id}/rule": {"attribute": "title", "value": "x"},
        f"/sites/{site.id}/kiosks": {"label": "Forged"},
        f"/sites/{site.id}/kiosks/{kiosk}/revoke": {},
    }
    for action, data in forms.items():
        missing = await signed_in.post(action, data=data)
        assert missing.status_code == 403, action
        wrong = await signed_in.post(action, data={**data, "csrf": "x" + csrf})
        assert wrong.status_code == 403, action
        foreign = await signed_in.post(
            action, data={**data, "csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403, action
    assert site_names(database, tenant_id) == ["Paris HQ"]
    with database.connect(write=False) as connection:
        kiosks = list_kiosks(connection, tenant_id)
    assert [(k.label, k.revoked_at) for k in kiosks] == [("Lobby", None)]


async def test_signed_out_visitors_are_sent_to_sign_in(
    browser: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    site = new_site(database, tenant_id)
    for path in ("/sites", f"/sites/{site.id}", "/visits", "/visits.csv", "/on-site"):
        response = await browser.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next=")


async def test_front_desk_actions_read_well_in_the_activity_log(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, admin_email: str
) -> None:
    created = await post(signed_in, "/sites", "/sites", {"name": "Paris HQ", "timezone": "UTC"})
    site_url = created.headers["location"]
    await post(signed_in, site_url, f"{site_url}/kiosks", {"label": "Lobby"})
    arrival = visit(database, reload_site(database, new_site(database, tenant_id, "Lyon")), "Ada")
    await post(signed_in, f"/visits/{arrival.id}", f"/visits/{arrival.id}/checkout", {})
    log = await signed_in.get("/activity")
    assert log.status_code == 200
    assert f'<a href="{site_url}">Paris HQ</a>' in log.text
    assert f'<a href="/visits/{arrival.id}">visit at Lyon</a>' in log.text
    assert "Lobby (hsk_kiosk_" in log.text
    assert "Ada" not in log.text.split("<main")[1]  # the visitor's name is not logged
    assert admin_email in log.text
