"""Issue 18, item 7: a Bulk operation's odd ``path`` gets a per-operation SCIM error, never a
500 (``"path": "/"`` raised an IndexError), and the operations around it still run."""

from __future__ import annotations

from typing import Any

import pytest

from hostsync.config import Settings
from hostsync.store.database import Database
from hostsync.web.app import create_app

from .conftest import ERROR_SCHEMA, USER_SCHEMA, client_for, new_tenant

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

ODD_PATHS: list[tuple[Any, str, int]] = [  # path, method, status expected
    ("/", "POST", 404),
    ("//", "POST", 404),
    ("///", "DELETE", 404),
    ("/", "DELETE", 404),
    ("", "POST", 400),
    ("Users", "POST", 400),
    (None, "POST", 400),
    (17, "POST", 400),
    (["/Users"], "POST", 400),
    ("/Nope", "POST", 404),
    ("/Users/", "DELETE", 405),
    ("/Users//", "PATCH", 405),
    ("/Users/x/y", "DELETE", 404),
    ("/Groups/x/y/z", "PUT", 404),
    ("/Users/unknown-id", "DELETE", 404),
    ("/bulkId:nothing", "POST", 400),
    ("/Users/bulkId:nothing", "DELETE", 400),
    ("/Schemas", "POST", 404),
    ("/Users/\u00e9\u2028", "DELETE", 404),
]


@pytest.mark.parametrize(("path", "method", "status"), ODD_PATHS)
async def test_an_odd_bulk_path_is_a_scim_error_of_that_operation(
    database: Database, path: Any, method: str, status: int
) -> None:
    """Each odd path answers a 4xx SCIM error body for its own operation; the request is 200
    and the next operation (a valid create) still runs."""
    _, key = new_tenant(database, "Bulk paths")
    app = create_app(Settings(key_cache_seconds=60, rate_limit="none"), database)
    body = {
        "schemas": [BULK],
        "Operations": [
            {"method": method, "path": path, "bulkId": "odd", "data": {"userName": "odd"}},
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "ok",
                "data": {"schemas": [USER_SCHEMA], "userName": "after-odd@example.com"},
            },
        ],
    }
    async with client_for(app, key) as client:
        response = await client.post("/Bulk", json=body)
    assert response.status_code == 200, response.text
    odd, ok = response.json()["Operations"]
    assert odd["status"] == str(status), odd
    assert odd["response"]["schemas"] == [ERROR_SCHEMA]
    assert odd["response"]["status"] == str(status)
    assert ok["status"] == "201", ok
