"""Activity and host pages people can read (issue 26): labels, names, search, chips, times, CSV.

Every query added here is scoped by tenant: another tenant's rows, hosts and names never reach
a search, a filter, a name or the CSV.
"""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hostsync.config import SCIM_PREFIX
from hostsync.store.activity.export import export_csv
from hostsync.store.activity.labels import change_lines, change_text, label, value_text
from hostsync.store.activity.queries import (
    MAX_PERSON_MEMBERS,
    ActivityFilter,
    names_of,
    page,
)
from hostsync.store.activity.recording import RecordingDirectory, RequestContext
from hostsync.store.activity.records import append
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("name.givenName", "First name"),
        ("name.familyName", "Last name"),
        ("NAME.GIVENNAME", "First name"),  # attribute names are case-insensitive (RFC 7643)
        ("userName", "User name"),
        ("displayName", "Display name"),
        ("active", "Active"),
        ("title", "Job title"),
        (f"{ENTERPRISE}:department", "Department"),
        (f"{ENTERPRISE}.department", "Department"),
        (f"{ENTERPRISE}.manager.value", "Manager"),
        (f"{ENTERPRISE}:employeeNumber", "Employee number"),
        ('emails[type eq "work"].value', "Work e-mail"),
        ('phoneNumbers[type eq "mobile"].value', "Mobile"),
        ('phoneNumbers[type eq "work"].value', "Work phone"),
        ('addresses[type eq "work"].locality', "Work address: city"),
        ("emails[0].value", "E-mail"),
        ("emails[1].value", "E-mail 2"),
        ("emails[0].primary", "E-mail (primary)"),
        ("members added", "Members added"),
        ("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "First name"),
        # Unknown paths are shown as they are.
        ("urn:ietf:params:scim:schemas:extension:Contoso:2.0:User:badge", None),
        (f"{ENTERPRISE}.shoeSize", None),
        ("favouriteColour", None),
        ("name.nickname.deep", None),
        ('emails[value eq "x"].value', None),
    ],
)
def test_labels_of_attribute_paths(path: str, expected: str | None) -> None:
    """Known paths get the label people know; unknown ones stay as they are."""
    assert label(path) == (path if expected is None else expected)


def test_an_indexed_path_takes_its_type_from_its_siblings() -> None:
    """``emails[0].value`` is the work e-mail when ``emails[0].type`` says so."""
    siblings = {"emails[0].type": "work", "phoneNumbers[0].type": "mobile"}
    assert label("emails[0].value", siblings) == "Work e-mail"
    assert label("phoneNumbers[0].value", siblings) == "Mobile"
    assert label("emails[1].value", siblings) == "E-mail 2"


def test_values_are_never_python_reprs() -> None:
    """Nothing is a dash, booleans are words, lists are joined, objects are JSON."""
    assert value_text(None) == "—"
    assert value_text(True) == "true"
    assert value_text("Chloé") == "Chloé"
    assert value_text(["a", None, 3]) == "a, —, 3"
    assert value_text({"b": 1, "a": "é"}) == '{"a": "é", "b": 1}'
    lines = change_lines(
        [
            {"path": "name.givenName", "old": None, "new": "Chloé"},
            {"path": "members added", "old": None, "new": ["id-1", "id-2"]},
        ],
        {"id-1": "Chloé Dubois"},
    )
    assert [change_text(line) for line in lines] == [
        "First name: — → Chloé",
        "Members added: Chloé Dubois, id-2",
    ]


async def _provision(database: Database, tenant_id: str) -> dict[str, str]:
    """A host with a display name, one without, a group of both; their ids."""
    with database.directory(tenant_id) as directory:
        recorder = RecordingDirectory(
            directory,
            directory.connection,
            tenant_id,
            RequestContext("POST", f"{SCIM_PREFIX}/Users", "Azure AD SCIM"),
        )
        chloe = recorder.create_user(
            {
                "userName": "chloe@contoso.com",
                "displayName": "Chloé Dubois",
                "emails": [{"value": "chloe@contoso.com", "type": "work"}],
                ENTERPRISE: {"department": "Front desk"},
            }
        )
        bare = recorder.create_user({"userName": "bare@contoso.com"})
        group = recorder.create_group({"displayName": "Lobby"}, [chloe.id, bare.id])
        recorder.flush()
    return {"chloe": chloe.id, "bare": bare.id, "group": group.id}


async def test_member_ids_are_shown_by_name_and_another_tenants_stay_ids(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """A group's members added are named; an id of another tenant's host is never named."""
    ids = await _provision(database, tenant_id)
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
    with database.directory(other) as directory:
        foreign = directory.create_user({"userName": "secret@fabrikam.com", "displayName": "Zed"})
    with database.connect(write=True) as connection:
        append(  # a row naming the other tenant's id, as a forged or stale member list would
            connection,
            tenant_id,
            RequestContext("PATCH", "/x"),
            operation="update",
            status=200,
            resource_type="Group",
            resource_id=ids["group"],
            resource_name="Lobby",
            changes=[{"path": "members added", "old": None, "new": [foreign.id]}],
        )
        assert names_of(connection, tenant_id, [foreign.id, ids["chloe"]]) == {
            ids["chloe"]: "Chloé Dubois"
        }
        assert names_of(connection, other, [ids["chloe"]]) == {}
    html = (await signed_in.get("/activity")).text
    assert "Members added" in html
    assert "Chloé Dubois, bare@contoso.com" in unescape(html)
    assert "Zed" not in html and "secret@fabrikam.com" not in html
    assert foreign.id in html  # unresolved: shown as the id it is


async def test_search_by_person_finds_user_name_and_display_name(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """``q`` matches the recorded name, the host's display name and the groups it joined."""
    await _provision(database, tenant_id)
    by_display = unescape((await signed_in.get("/activity", params={"q": "DUBOIS"})).text)
    assert "chloe@contoso.com" in by_display  # the host's own row
    assert "Members added: Chloé Dubois, bare@contoso.com" in by_display  # the group's row
    assert 'href="/hosts/' in by_display and "bare@contoso.com</a>" not in by_display
    assert "2 entries about “DUBOIS”" in by_display
    by_user = unescape((await signed_in.get("/activity", params={"q": "bare@"})).text)
    assert "2 entries about" in by_user and "chloe@contoso.com</a>" not in by_user
    hosts_only = unescape((await signed_in.get("/activity?q=bare@&resource=User")).text)
    assert "1 entry about" in hosts_only
    nothing = unescape((await signed_in.get("/activity", params={"q": "50%_\\"})).text)
    assert "0 entries" in nothing and "No activity matches these filters" in nothing


def test_a_search_naming_many_hosts_finds_their_rows_not_every_group(
    database: Database, tenant_id: str
) -> None:
    """Past MAX_PERSON_MEMBERS matching hosts, membership changes are not searched."""
    with database.directory(tenant_id) as directory:
        many = [
            directory.create_user({"userName": f"crowd{n}@contoso.com"}).id
            for n in range(MAX_PERSON_MEMBERS + 1)
        ]
    with database.connect(write=True) as connection:
        for members in (many[:1], many):
            append(
                connection,
                tenant_id,
                RequestContext("PATCH", "/g"),
                operation="update",
                status=200,
                resource_type="Group",
                resource_id="g",
                resource_name="Hall",
                changes=[{"path": "members added", "old": None, "new": members}],
            )
        assert page(connection, tenant_id, ActivityFilter(person="crowd0@"))[0] == 2
        assert page(connection, tenant_id, ActivityFilter(person="crowd"))[0] == 0
        assert page(connection, tenant_id, ActivityFilter(person="hall"))[0] == 2


async def test_search_and_chips_never_show_another_tenants_rows(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """The same name in another tenant is found there only: page, filters and CSV alike."""
    await _provision(database, tenant_id)
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
    with database.directory(other) as directory:
        twin = directory.create_user({"userName": "chloe@fabrikam.com", "displayName": "Chloé"})
    with database.connect(write=True) as connection:
        append(
            connection,
            other,
            RequestContext("POST", "/fabrikam-only"),
            operation="create",
            status=201,
            resource_type="User",
            resource_id=twin.id,
            resource_name="chloe@fabrikam.com",
        )
        total, entries = page(connection, tenant_id, ActivityFilter(person="chloe"))
        assert total == 2  # her create, the group she joined
        assert {e.resource_name for e in entries} == {"chloe@contoso.com", "Lobby"}
        assert page(connection, other, ActivityFilter(person="chloe"))[0] == 1
    for params, expected in (
        ({"q": "chloé"}, 2),  # her row and the group she joined
        ({"q": "fabrikam"}, 0),
        ({"q": "chloe", "op": "create", "resource": "User", "outcome": "success"}, 1),
        ({"id": twin.id}, 0),
    ):
        html = (await signed_in.get("/activity", params=params)).text
        assert "chloe@fabrikam.com" not in html and "fabrikam-only" not in html, params
        shown = re.search(r'<p class="count"[^>]*>(\d+) entr', html)
        assert shown and int(shown.group(1)) == expected, params
        assert f'<a href="/hosts/{twin.id}"' not in html, params
        exported = (await signed_in.get("/activity.csv", params=params)).text
        assert "fabrikam" not in exported and twin.id not in exported, params
    assert "chloe@contoso.com" in (await signed_in.get("/activity.csv?q=chloe")).text


async def test_chips_combine_with_the_search_and_paging_keeps_them(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """A chip changes its own filter and keeps the others; paging links keep every filter."""
    with database.connect(write=True) as connection:
        for n in range(55):
            append(
                connection,
                tenant_id,
                RequestContext("PATCH", f"/u/{n}"),
                operation="update" if n % 2 else "replace",
                status=200,
                resource_type="User",
                resource_id=f"id-{n}",
                resource_name=f"guest{n}@contoso.com",
            )
        append(
            connection,
            tenant_id,
            RequestContext("DELETE", "/u/x"),
            operation="delete",
            status=404,
            resource_type="User",
            resource_name="guest-gone@contoso.com",
        )
    html = (await signed_in.get("/activity?q=guest&op=update&outcome=ok&page=1")).text
    assert "55 entries about" in html
    nav = re.search(r'<nav class="paging".*?</nav>', html, re.S)
    assert nav, "a second page of results"
    next_link = unescape(re.search(r'href="([^"]+)" rel="next"', nav.group(0)).group(1))  # type: ignore[union-attr]
    assert parse_qs(urlsplit(next_link).query) == {
        "q": ["guest"],
        "op": ["update"],
        "outcome": ["ok"],
        "page": ["2"],
    }
    second = (await signed_in.get(next_link)).text
    assert "Page 2 of 2" in second and "guest-gone" not in second
    chips = {
        unescape(m.group(2)): unescape(m.group(1))
        for m in re.finditer(r'<a class="chip[^"]*" href="([^"]+)"[^>]*>([^<]+)</a>', html)
    }
    failed = parse_qs(urlsplit(chips["Failed"]).query)
    assert failed == {"q": ["guest"], "op": ["update"], "outcome": ["failure"]}
    assert "55 entries" not in (await signed_in.get(chips["Failed"])).text
    deleted = (await signed_in.get(chips["Deleted"])).text  # op=delete, outcome kept: none
    assert "0 entries about" in deleted
    failed_deletes = (await signed_in.get("/activity?q=guest&op=delete&outcome=failed")).text
    assert "1 entry about" in failed_deletes and "guest-gone@contoso.com" in failed_deletes
    assert 'aria-current="true">Failed<' in failed_deletes


async def test_the_id_filter_is_a_visible_chip_with_the_name(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """``?id=`` (a host's or group's activity) shows as a chip naming it, with a way out."""
    ids = await _provision(database, tenant_id)
    html = unescape((await signed_in.get("/activity", params={"id": ids["group"]})).text)
    chip = re.search(r'data-testid="id-chip">(.*?)</span>', html, re.S)
    assert chip and chip.group(1).startswith("Lobby ")
    assert 'href="/activity"' in chip.group(1)
    csv_link = re.search(r'href="(/activity\.csv[^"]*)"', html)
    assert csv_link and f"id={ids['group']}" in csv_link.group(1)  # the export keeps the filter


ODD_QUERIES = [
    "q=%00",
    "q=%ff%fe",
    "q=" + "x" * 5000,
    "id=%00%01",
    "id=" + "y" * 500,
    "outcome=maybe&op=drop+table&resource=../../etc&period=forever",
    "op=create&op=delete",
    "outcome[]=failure",
    "q=%E2%80%AE%F0%9F%98%80",
    "period=1h&page=-3",
    "pruned=%3Cscript%3E",
]


@pytest.mark.parametrize("query", ODD_QUERIES)
async def test_odd_query_strings_never_answer_500(signed_in: httpx.AsyncClient, query: str) -> None:
    """Bad filter values are ignored; the page and the CSV still answer."""
    html = await signed_in.get(f"/activity?{query}")
    assert html.status_code == 200, html.text[:300]
    assert "<script>" not in html.text.split("</head>", 1)[1]
    exported = await signed_in.get(f"/activity.csv?{query}")
    assert exported.status_code == 200
    assert exported.content.startswith(b"\xef\xbb\xbf")


async def test_times_are_time_elements_in_utc(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """Each time is ``<time datetime="…Z">`` with the UTC text: the no-script fallback."""
    await _provision(database, tenant_id)
    html = (await signed_in.get("/activity")).text
    stamps = re.findall(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html)
    assert len(stamps) == 4  # the sign-in, two hosts, one group
    for iso, title, text in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", iso)
        assert title == text == f"{iso[:10]} {iso[11:16]} UTC"


async def test_host_page_shows_labels_and_the_manager_by_name(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """Attributes by their labels (unknown ones as they are), the manager named, UTC times."""
    ids = await _provision(database, tenant_id)
    with database.directory(tenant_id) as directory:
        host = directory.create_user(
            {
                "userName": "dan@contoso.com",
                "name": {"givenName": "Dan"},
                "phoneNumbers": [{"value": "+33 6", "type": "mobile"}],
                ENTERPRISE: {"department": "Night desk", "manager": {"value": ids["chloe"]}},
                "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User": {"badge": "B7"},
            }
        )
    html = unescape((await signed_in.get(f"/hosts/{host.id}")).text)
    cells = dict(re.findall(r"<tr><td>(?:<[^>]+>)([^<]+)<[^>]+></td><td>([^<]*)</td></tr>", html))
    assert cells["First name"] == "Dan"
    assert cells["Mobile"] == "+33 6"
    assert cells["Department"] == "Night desk"
    assert cells["Manager"] == "Chloé Dubois"
    assert cells["urn:ietf:params:scim:schemas:extension:Contoso:2.0:User.badge"] == "B7"
    assert f"{ENTERPRISE}.department" not in cells
    chloe = unescape((await signed_in.get(f"/hosts/{ids['chloe']}")).text)
    assert "Work e-mail" in chloe and "<time datetime=" in chloe


def test_the_csv_names_members_like_the_page(database: Database, tenant_id: str) -> None:
    """The export's changes cell uses labels and names, the BOM first."""
    with database.directory(tenant_id) as directory:
        user = directory.create_user({"userName": "eve@contoso.com", "displayName": "Ève"})
    with database.connect(write=True) as connection:
        append(
            connection,
            tenant_id,
            RequestContext("PATCH", "/g"),
            operation="update",
            status=200,
            resource_type="Group",
            resource_id="g1",
            changes=[
                {"path": "members added", "old": None, "new": [user.id]},
                {"path": f"{ENTERPRISE}.department", "old": "A", "new": "B"},
            ],
        )
        text = "".join(export_csv(connection, tenant_id, ActivityFilter()))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[1][rows[0].index("changes")] == "Members added: Ève; Department: A → B"
    assert rows[1][rows[0].index("outcome")] == "ok"
