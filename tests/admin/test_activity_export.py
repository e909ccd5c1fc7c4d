"""The activity CSV export: formulas neutralised in every cell, rows read in chunks, per tenant;
API keys never stored in the activity log's text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.activity import export
from hostsync.store.activity.export import BOM, csv_cell, stream_csv
from hostsync.store.activity.queries import ActivityFilter, page
from hostsync.store.activity.recording import RequestContext
from hostsync.store.activity.records import append
from hostsync.store.database import Database
from hostsync.store.tenants import create_tenant
from tests.admin.conftest import console_app

FORMULAS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '  =HYPERLINK("x")', " @y"]


def _rows(text: str) -> list[list[str]]:
    assert text.startswith(BOM), "the export starts with a UTF-8 byte order mark"
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_cells_starting_like_a_formula_are_quoted() -> None:
    """OWASP's rule: = + - @ TAB CR (also after leading spaces) get a leading single quote."""
    for value in FORMULAS:
        assert csv_cell(value) == "'" + value
    for value in ["plain", "a=b", "2026-01-01", "", None, 201]:
        assert not csv_cell(value).startswith("'")


async def test_every_column_of_the_export_is_neutralised(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """A formula planted in any column (resource_id, type, method, operation...) is quoted."""
    with database.connect(write=True) as connection:
        append(
            connection,
            tenant_id,
            RequestContext("=M", "+path", "@client", actor="-actor"),
            operation="=op",
            status=400,
            detail="=detail",
            resource_type="=type",
            resource_id='=HYPERLINK("http://evil")',
            resource_name="  =name",
            changes=[{"path": "=p", "old": None, "new": "x"}],
        )
    exported = await signed_in.get("/activity.csv")
    assert exported.status_code == 200
    rows = _rows(exported.text)
    header, planted = rows[0], rows[1]
    assert header[0] == "time"
    for column, cell in zip(header, planted, strict=True):
        if cell:
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), (
                column,
                cell,
            )
    assert planted[header.index("resource_id")] == '\'=HYPERLINK("http://evil")'


def test_the_export_reads_rows_in_chunks_of_short_transactions(
    database: Database, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows come in key order, once each, and no connection is held between chunks."""
    with database.connect(write=True) as connection:
        for n in range(7):
            append(
                connection,
                tenant_id,
                RequestContext("POST", f"/x/{n}"),
                operation="create",
                status=201,
            )
    opened = {"now": 0, "total": 0}
    real_connect = database.connect

    @contextmanager
    def counting(*args: Any, **kwargs: Any) -> Iterator[Any]:
        opened["now"] += 1
        opened["total"] += 1
        try:
            with real_connect(*args, **kwargs) as connection:
                yield connection
        finally:
            opened["now"] -= 1

    monkeypatch.setattr(database, "connect", counting)
    chunks = stream_csv(database, tenant_id, ActivityFilter(), chunk_rows=3)
    texts = []
    for chunk in chunks:
        assert opened["now"] == 0  # between chunks, no connection is open
        texts.append(chunk)
    rows = _rows("".join(texts))[1:]
    assert [row[4] for row in rows] == [f"/x/{n}" for n in reversed(range(7))]
    assert opened["total"] == 4  # 3 + 3 + 1 rows, then an empty read


async def test_the_console_export_streams_from_stream_csv(
    signed_in: httpx.AsyncClient, tenant_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download is built chunk by chunk from the database, not as one list in memory."""
    calls: list[str] = []
    real = export.stream_csv

    def spy(database: Database, tenant: str, selected: ActivityFilter) -> Iterator[str]:
        calls.append(tenant)
        return real(database, tenant, selected, chunk_rows=2)

    monkeypatch.setattr(export, "stream_csv", spy)
    exported = await signed_in.get("/activity.csv")
    assert exported.status_code == 200
    assert calls == [tenant_id]


async def test_another_tenants_rows_never_reach_the_export(
    signed_in: httpx.AsyncClient, database: Database
) -> None:
    """An administrator's export holds only their tenant's rows."""
    with database.connect(write=True) as connection:
        other = create_tenant(connection, "Fabrikam").id
        append(
            connection,
            other,
            RequestContext("POST", "/fabrikam-only"),
            operation="create",
            status=201,
        )
    exported = await signed_in.get("/activity.csv")
    assert "/fabrikam-only" not in exported.text


async def test_an_api_key_in_a_failed_filter_is_not_stored(
    database: Database, settings: Settings, tenant_id: str, api_key: str
) -> None:
    """A key pasted into an invalid filter reaches the activity log cut to its shown prefix."""
    app = console_app(database, settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://testserver{SCIM_PREFIX}",
        headers={"Authorization": f"Bearer {api_key}"},
    ) as scim:
        answer = await scim.get("/Users", params={"filter": f'userName eq "{api_key}" and ('})
        assert answer.status_code == 400
        await scim.delete(f"/Users/{api_key}")
    with database.connect(write=False) as connection:
        _, entries = page(connection, tenant_id, ActivityFilter(), limit=50)
    stored = repr([(e.path, e.detail, e.resource_id, e.resource_name) for e in entries])
    assert api_key not in stored
    assert api_key[:12] in stored or not entries


def test_append_redacts_keys_in_every_text(database: Database, tenant_id: str) -> None:
    """Path, client, actor, resource name and detail are stored with keys redacted."""
    key = "hsk_" + "A" * 43
    with database.connect(write=True) as connection:
        append(
            connection,
            tenant_id,
            RequestContext("GET", f"/Users?filter={key}", f"curl {key}", actor=key),
            operation="read",
            status=400,
            detail=f"bad filter {key}",
            resource_name=key,
        )
        _, entries = page(connection, tenant_id, ActivityFilter(), limit=1)
    entry = entries[0]
    for text in (entry.path, entry.client, entry.actor, entry.resource_name, entry.detail):
        assert text is not None and key not in text and "hsk_AAAAAAAA" in text
