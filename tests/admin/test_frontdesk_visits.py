"""Front desk > Visits and On site now in the console: filters, paging, CSV, check-out, print.

Days are the site's own: a visit at 23:30 UTC in Paris belongs to the next day there. Another
tenant's visits never appear in a list or an export, whatever the query string names, and
their ids answer 404.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import httpx
import pytest
from sqlalchemy import select, update

from hostsync.frontdesk.sites import Site
from hostsync.frontdesk.visits import Visit
from hostsync.store.admin_tables import activity
from hostsync.store.database import Database
from hostsync.store.frontdesk.sites import update_site
from hostsync.store.frontdesk.tables import visits
from hostsync.store.frontdesk.visits import check_out, get_visit
from tests.admin.frontdesk import new_site, other_tenant, post, token, visit
from tests.frontdesk.conftest import make_host


def arrived_at(database: Database, checked_in: Visit, moment: datetime) -> None:
    """Move a visit's check-in time (naive UTC)."""
    with database.connect(write=True) as connection:
        connection.execute(
            update(visits).where(visits.c.id == checked_in.id).values(checked_in_at=moment)
        )


def stored(database: Database, checked_in: Visit) -> Visit:
    with database.connect(write=False) as connection:
        found = get_visit(connection, checked_in.tenant_id, checked_in.id)
    assert found is not None
    return found


def names_in(html: str) -> set[str]:
    """The visitor names linked from a visit list."""
    table = html.split('<table class="visits">')[1].split("</table>")[0]
    return set(re.findall(r'<td><a href="/visits/[0-9a-f]+">([^<]*)</a></td>', table))


@pytest.fixture
def paris(database: Database, tenant_id: str) -> Site:
    return new_site(database, tenant_id)


async def test_the_list_shows_visits_in_site_time_and_filters_them(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, paris: Site
) -> None:
    tokyo = new_site(database, tenant_id, "Tokyo", "Asia/Tokyo")
    host = make_host(database, tenant_id, "José", "Núñez")
    ada = visit(database, paris, "Ada Lovelace", host=(host, "José Núñez"), company="Analytical")
    grace = visit(database, paris, "Grace Hopper")
    kenji = visit(database, tokyo, "Kenji Sato")
    arrived_at(database, ada, datetime(2024, 3, 4, 23, 30))  # 5 March 00:30 in Paris
    arrived_at(database, grace, datetime(2024, 3, 4, 8, 0))  # 4 March 09:00 in Paris
    arrived_at(database, kenji, datetime(2024, 3, 4, 16, 0))  # 5 March 01:00 in Tokyo
    with database.connect(write=True) as connection:
        check_out(connection, tenant_id, grace.id, "kiosk Lobby")

    everything = await signed_in.get("/visits")
    assert everything.status_code == 200
    assert names_in(everything.text) == {"Ada Lovelace", "Grace Hopper", "Kenji Sato"}
    assert "2024-03-05 00:30" in everything.text  # Paris time, not UTC
    assert "2024-03-05 01:00" in everything.text  # Tokyo time
    assert "3 visits" in everything.text

    async def names(query: str) -> set[str]:
        response = await signed_in.get(f"/visits?{query}")
        assert response.status_code == 200, query
        return names_in(response.text)

    assert await names(f"site={paris.id}") == {"Ada Lovelace", "Grace Hopper"}
    assert await names("day=2024-03-05") == {"Ada Lovelace", "Kenji Sato"}
    assert await names("day=2024-03-04") == {"Grace Hopper"}
    assert await names(f"day=2024-03-05&site={tokyo.id}") == {"Kenji Sato"}
    assert await names("status=on-site") == {"Ada Lovelace", "Kenji Sato"}
    assert await names("status=checked-out") == {"Grace Hopper"}
    assert await names("host=nunez") == set()  # the label as shown, case-insensitive
    assert await names("host=NÚÑ") == {"Ada Lovelace"}
    assert await names(f"host_id={host}") == {"Ada Lovelace"}
    by_host = await signed_in.get(f"/visits?host_id={host}")
    assert "Host: José Núñez" in by_host.text


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=99999999999999",
        "page=-1",
        "day=2024-13-45",
        "day=%00",
        "day=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%94-01-01",  # full-width digits
        "status=<script>",
        "site=%27%20OR%201=1--",
        "host=%25",
        "host=" + "x" * 5000,
        "host_id=" + "y" * 500,
        "site=a&site=b",
    ],
)
async def test_odd_query_strings_answer_a_page(
    signed_in: httpx.AsyncClient, database: Database, paris: Site, query: str
) -> None:
    visit(database, paris, "Ada Lovelace")
    for path in ("/visits", "/visits.csv", "/on-site"):
        response = await signed_in.get(f"{path}?{query}")
        assert response.status_code in (200, 404), (path, query)
        assert "<script>" not in response.text


async def test_visits_are_paged(
    signed_in: httpx.AsyncClient, database: Database, paris: Site
) -> None:
    for number in range(55):
        visit(database, paris, f"Visitor {number:02d}")
    first = await signed_in.get("/visits?status=on-site")
    assert len(names_in(first.text)) == 50
    assert "Page 1 of 2" in first.text
    assert 'href="/visits?status=on-site&amp;page=2"' in first.text
    second = await signed_in.get("/visits?status=on-site&page=2")
    assert names_in(second.text) == {f"Visitor {n:02d}" for n in range(5)}  # oldest last


async def test_a_visit_page_shows_its_deliveries(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, paris: Site
) -> None:
    with database.connect(write=True) as connection:
        paris = update_site(
            connection, tenant_id, paris.id, fallback_recipients=["desk@contoso.example"]
        )
    arrival = visit(database, paris, "Ada Lovelace", company="Analytical")
    page = await signed_in.get(f"/visits/{arrival.id}")
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text and "Analytical" in page.text
    assert "Front desk" in page.text
    deliveries = page.text.split('<table class="deliveries">')[1]
    assert "desk@contoso.example" in deliveries
    assert 'class="badge delivery-pending">pending' in deliveries
    assert "by kiosk Lobby" in page.text


async def test_csv_export_is_filtered_formula_safe_and_has_a_bom(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, paris: Site
) -> None:
    lyon = new_site(database, tenant_id, "Lyon")
    host = make_host(database, tenant_id, "Chloé", "Durand")
    risky = visit(
        database, paris, '=HYPERLINK("http://evil")', company="+cmd", host=(host, "Chloé D.")
    )
    arrived_at(database, risky, datetime(2024, 7, 1, 7, 5))
    visit(database, lyon, "Not Exported")
    response = await signed_in.get(f"/visits.csv?site={paris.id}&page=3")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="visits-')
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    assert len(rows) == 1
    (row,) = rows
    assert row["visitor"] == '\'=HYPERLINK("http://evil")'
    assert row["company"] == "'+cmd"
    assert row["host"] == "Chloé D."
    assert (row["checked_in"], row["timezone"], row["checked_in_utc"]) == (
        "2024-07-01 09:05",
        "Europe/Paris",
        "2024-07-01T07:05:00Z",
    )
    assert row["site"] == "Paris HQ" and row["visit_id"] == risky.id


async def test_the_front_desk_checks_a_visitor_out_once_and_it_is_audited(
    signed_in: httpx.AsyncClient,
    database: Database,
    tenant_id: str,
    admin_email: str,
    paris: Site,
) -> None:
    arrival = visit(database, paris, "Ada Lovelace")
    url = f"/visits/{arrival.id}"
    done = await post(signed_in, url, f"{url}/checkout", {"back": "visit"})
    assert done.status_code == 303
    assert done.headers["location"] == url
    after = stored(database, arrival)
    assert after.checked_out_at is not None
    assert after.checked_out_by == f"front desk: {admin_email}"
    page = await signed_in.get(url)
    assert "Ada Lovelace is checked out." in page.text
    assert f"by front desk: {admin_email}" in page.text
    assert 'action="/visits/' not in page.text  # no check-out button any more
    csrf = await token(signed_in)
    again = await signed_in.post(f"{url}/checkout", data={"csrf": csrf})
    assert again.status_code == 303
    assert "was checked out already" in (await signed_in.get(url)).text
    assert stored(database, arrival).checked_out_at == after.checked_out_at
    with database.connect(write=False) as connection:
        rows = connection.execute(
            select(activity.c.operation, activity.c.actor, activity.c.resource_name).where(
                activity.c.tenant_id == tenant_id, activity.c.resource_type == "Visit"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("check-out", admin_email, "visit at Paris HQ")]


async def test_on_site_now_lists_checks_out_and_prints(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, paris: Site
) -> None:
    lyon = new_site(database, tenant_id, "Lyon")
    host = make_host(database, tenant_id, "José", "Núñez")
    ada = visit(database, paris, "Ada Lovelace", host=(host, "José Núñez"), company="Analytical")
    arrived_at(database, ada, datetime(2024, 1, 10, 8, 15))
    grace = visit(database, paris, "Grace Hopper")
    left = visit(database, paris, "Gone Already")
    visit(database, lyon, "Elsewhere")
    with database.connect(write=True) as connection:
        check_out(connection, tenant_id, left.id, "kiosk Lobby")

    page = await signed_in.get(f"/on-site?site={paris.id}")
    assert page.status_code == 200
    table = page.text.split('<table class="on-site">')[1]
    assert "Ada Lovelace" in table and "Grace Hopper" in table and "José Núñez" in table
    assert "2024-01-10 09:15" in table  # Paris time
    assert "Gone Already" not in table and "Elsewhere" not in table
    assert "2 visitors on site" in page.text
    default = await signed_in.get("/on-site")  # the first site by name: Lyon
    assert "Elsewhere" in default.text and "Ada Lovelace" not in default.text

    done = await post(
        signed_in, f"/on-site?site={paris.id}", f"/visits/{grace.id}/checkout", {"back": "on-site"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/on-site?site={paris.id}"
    page = await signed_in.get(done.headers["location"])
    assert "Grace Hopper is checked out." in page.text
    assert "1 visitor on site" in page.text

    printed = await signed_in.get(f"/on-site/print?site={paris.id}")
    assert printed.status_code == 200
    assert "Evacuation list" in printed.text and "Paris HQ" in printed.text
    assert "Head count: 1" in printed.text
    assert "Printed 20" in printed.text and "(Europe/Paris)" in printed.text
    assert "Ada Lovelace" in printed.text and "Grace Hopper" not in printed.text
    assert 'name="back"' not in printed.text  # no check-out buttons on paper


async def test_on_site_without_sites_says_how_to_add_one(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/on-site")
    assert page.status_code == 200
    assert "No sites yet" in page.text
    assert (await signed_in.get("/on-site/print")).status_code == 404


async def test_another_tenants_visits_are_never_shown_or_checked_out(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, paris: Site
) -> None:
    visit(database, paris, "Mine Visitor")
    theirs = new_site(database, other_tenant(database), "Theirs")
    their_visit = visit(database, theirs, "Their Visitor", company="Fabrikam")
    for query in (
        "",
        f"site={theirs.id}",
        "status=on-site",
        "host=",
        "day=" + datetime.now().date().isoformat(),
    ):
        listed = await signed_in.get(f"/visits?{query}")
        assert "Their Visitor" not in listed.text, query
        exported = await signed_in.get(f"/visits.csv?{query}")
        assert "Their Visitor" not in exported.text and "Fabrikam" not in exported.text, query
    assert "Mine Visitor" in (await signed_in.get("/visits.csv")).text  # the export does work
    assert (await signed_in.get(f"/visits/{their_visit.id}")).status_code == 404
    assert (await signed_in.get(f"/on-site?site={theirs.id}")).status_code == 404
    assert (await signed_in.get(f"/on-site/print?site={theirs.id}")).status_code == 404
    assert "Their Visitor" not in (await signed_in.get("/on-site")).text
    csrf = await token(signed_in)
    refused = await signed_in.post(f"/visits/{their_visit.id}/checkout", data={"csrf": csrf})
    assert refused.status_code == 404
    assert stored(database, their_visit).checked_out_at is None


async def test_check_out_needs_the_csrf_token(
    signed_in: httpx.AsyncClient, database: Database, paris: Site
) -> None:
    arrival = visit(database, paris, "Ada Lovelace")
    csrf = await token(signed_in)
    missing = await signed_in.post(f"/visits/{arrival.id}/checkout", data={"back": "visit"})
    assert missing.status_code == 403
    foreign = await signed_in.post(
        f"/visits/{arrival.id}/checkout",
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert stored(database, arrival).checked_out_at is None
    assert (await signed_in.get(f"/visits/{arrival.id}/checkout")).status_code == 405


async def test_nul_bytes_and_odd_ids_never_reach_the_database(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str, paris: Site
) -> None:
    """PostgreSQL refuses NUL in text: ids and filters with one are 404s or ignored, not 500s."""
    arrival = visit(database, paris, "Ada Lovelace")
    for path in (
        "/sites/%00",
        f"/sites/{paris.id}%00",
        "/sites/" + "a" * 65,
        "/visits/%00",
        "/visits/%E2%80%8B",
        "/on-site?site=%00",
        "/on-site/print?site=%00",
    ):
        response = await signed_in.get(path)
        assert response.status_code == 404, path
    for query in ("site=%00", "host=%00", "host_id=%00", "day=%00", "status=%00"):
        listed = await signed_in.get(f"/visits?{query}")
        assert listed.status_code == 200, query
        assert "Ada Lovelace" in listed.text, query  # an unusable filter is ignored
        assert (await signed_in.get(f"/visits.csv?{query}")).status_code == 200, query
    csrf = await token(signed_in)
    refused = await signed_in.post(f"/visits/{arrival.id}%00/checkout", data={"csrf": csrf})
    assert refused.status_code == 404
    url = f"/sites/{paris.id}"
    bad_group = await post(signed_in, url, f"{url}/groups", {"group": "\x00"})
    assert bad_group.status_code == 422
    named = await post(
        signed_in,
        url,
        url,
        {"name": "Paris\x00 HQ", "timezone": "Europe/Paris\x00", "privacy": "full"},
    )
    assert named.status_code == 303  # control characters are dropped from typed text
    rule = await post(signed_in, url, f"{url}/rule", {"attribute": "title\x00", "value": "a\x00b"})
    assert rule.status_code == 303
    kiosk = await post(signed_in, url, f"{url}/kiosks", {"label": "Lobby\x00"})
    assert kiosk.status_code == 303
    site = await signed_in.get(url)
    assert "Paris HQ" in site.text and "\x00" not in site.text
