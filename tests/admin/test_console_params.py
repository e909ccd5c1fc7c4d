"""Console number parameters are parsed strictly and clamped: never a 500."""

from __future__ import annotations

import httpx
import pytest

from hostsync.store.database import Database
from hostsync.web.admin.paging import MAX_PAGE, parse_number
from tests.admin.conftest import csrf_of

ODD_PAGES = ["²", "١٢", "-1", "0", "1e3", " 7", "99999999999999999999999", "9" * 400, "", "x"]


@pytest.mark.parametrize("path", ["/hosts", "/groups", "/activity"])
async def test_page_parameters_never_answer_500(signed_in: httpx.AsyncClient, path: str) -> None:
    """Any ``page`` value, Unicode digits and huge numbers included, renders a page (200)."""
    for raw in ODD_PAGES:
        response = await signed_in.get(path, params={"page": raw})
        assert response.status_code == 200, (path, raw, response.status_code)


async def test_group_page_parameter_never_answers_500(
    signed_in: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    """A group's member pages take the same strict, clamped page number."""
    with database.directory(tenant_id) as directory:
        group = directory.create_group({"displayName": "Ops"}, [])
    for raw in ODD_PAGES:
        response = await signed_in.get(f"/groups/{group.id}", params={"page": raw})
        assert response.status_code == 200, (raw, response.status_code)


async def test_prune_days_are_parsed_strictly(signed_in: httpx.AsyncClient) -> None:
    """``days`` of ``²``, a huge number or text prunes with a sane value and redirects."""
    for raw in ["²", "99999999999999999999999", "abc", "0", "-5", "3"]:
        page = await signed_in.get("/activity")
        response = await signed_in.post(
            "/activity/prune", data={"csrf": csrf_of(page.text), "days": raw}
        )
        assert response.status_code == 303, (raw, response.status_code)
        assert response.headers["location"].startswith("/activity?pruned=")


def test_parse_number_accepts_only_ascii_digits_and_clamps() -> None:
    """Only ASCII digits are a number; results are clamped into the allowed range."""
    assert parse_number("²", 1, 1, MAX_PAGE) == 1
    assert parse_number("12", 1, 1, MAX_PAGE) == 12
    assert parse_number("0", 1, 1, MAX_PAGE) == 1
    assert parse_number("999999999", 1, 1, MAX_PAGE) == MAX_PAGE
    assert parse_number("1" * 30, 5, 1, MAX_PAGE) == MAX_PAGE
    assert parse_number("1x", 5, 1, MAX_PAGE) == 5
    assert parse_number(None, 4, 1, 10) == 4
