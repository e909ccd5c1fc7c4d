"""The activity log: diffs, the recording directory, failures, paging, CSV and pruning."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from types import MappingProxyType
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from hostsync.config import SCIM_PREFIX, Settings
from hostsync.store.activity.changes import MAX_VALUE_CHARS, SECRET_NAMES, diff, flatten
from hostsync.store.activity.export import export_csv
from hostsync.store.activity.pruning import prune
from hostsync.store.activity.queries import ActivityFilter, page
from hostsync.store.activity.recording import RecordingDirectory, RequestContext
from hostsync.store.admin_tables import activity
from hostsync.store.clock import now
from hostsync.store.database import Database
from tests.admin.conftest import console_app

USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "ada@contoso.com",
    "displayName": "Ada Lovelace",
    "emails": [{"value": "ada@contoso.com", "type": "work", "primary": True}],
    "password": "hunter2-secret",
    "active": True,
}


def test_flatten_drops_secrets_and_names_paths() -> None:
    """Nested objects and lists become dotted/indexed paths; password never appears."""
    flat = flatten({"name": {"givenName": "A"}, "emails": [{"value": "a@x"}], "password": "p"})
    assert flat == {"name.givenName": "A", "emails[0].value": "a@x"}
    read_only = MappingProxyType({"name": MappingProxyType({"givenName": "A"}), "token": "t"})
    assert flatten(read_only) == {"name.givenName": "A"}  # any Mapping, not only dicts


def test_diff_lists_changed_added_and_removed_paths() -> None:
    """Only differing paths are listed, with old and new values."""
    changes = diff({"a": 1, "b": {"c": "x"}, "d": True}, {"a": 1, "b": {"c": "y"}, "e": 2})
    assert [(c.path, c.old, c.new) for c in changes] == [
        ("b.c", "x", "y"),
        ("d", True, None),
        ("e", None, 2),
    ]


def test_diff_equals_comparing_the_flattened_documents() -> None:
    """diff() flattens only differing attributes; the result is the full comparison's."""
    old = {
        "userName": "a",
        "name": {"givenName": "A", "familyName": "B"},
        "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x"}],
        "password": "secret",
        "tags": [],
        "x": {},
        "same": {"deep": [1, 2, {"k": "v"}]},
    }
    new = {
        "userName": "a",
        "name": {"givenName": "A2"},
        "emails": [{"value": "a@x", "type": "home"}],
        "password": "other",
        "tags": ["t"],
        "y": 1,
        "same": {"deep": [1, 2, {"k": "v"}]},
    }
    before, after = flatten(old), flatten(new)
    expected = [
        (path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path) or (path in before) != (path in after)
    ]
    assert [(c.path, c.old, c.new) for c in diff(old, new)] == expected
    assert ("name.familyName", "B", None) in expected and not any(
        path.startswith(("same", "password")) for path, _, _ in expected
    )


def _reference_flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """The plain recursive walk flatten() must equal (its first version)."""
    flat: dict[str, Any] = {}
    if isinstance(document, dict) and document:
        for key, value in document.items():
            if key.replace("-", "_").lower() not in SECRET_NAMES:
                flat.update(_reference_flatten(value, f"{prefix}.{key}" if prefix else key))
    elif isinstance(document, list) and document:
        for index, value in enumerate(document):
            flat.update(_reference_flatten(value, f"{prefix}[{index}]"))
    elif prefix:
        clipped = document
        if isinstance(document, str) and len(document) > MAX_VALUE_CHARS:
            clipped = document[:MAX_VALUE_CHARS] + "…"
        flat[prefix] = clipped
    return flat


_keys = st.sampled_from(["a", "b", "emails", "value", "Password", "api-key", "x"])
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=3)
    | st.just("v" * (MAX_VALUE_CHARS + 1)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_documents = st.none() | st.dictionaries(_keys, _json, max_size=5)


@settings(max_examples=400, deadline=None)
@given(old=_documents, new=_documents, share=st.booleans())
def test_diff_is_the_comparison_of_the_flattened_documents(
    old: dict[str, Any] | None, new: dict[str, Any] | None, share: bool
) -> None:
    """Any two documents (a create: old None; a delete: new None), secrets at any depth."""
    if share and old and new:
        new = {**old, **new}  # attributes that stay the same, as in most updates
    if old is not None:
        assert flatten(old) == _reference_flatten(old)
    before, after = _reference_flatten(old or {}), _reference_flatten(new or {})
    expected = [
        (path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path) or (path in before) != (path in after)
    ]
    assert [(c.path, c.old, c.new) for c in diff(old, new)] == expected


def test_recording_directory_writes_in_the_same_transaction(
    database: Database, tenant_id: str
) -> None:
    """A change rolled back takes its activity row with it; a committed one keeps it."""
    context = RequestContext("POST", f"{SCIM_PREFIX}/Users", "test-agent")
    try:
        with database.directory(tenant_id) as directory:
            recorder = RecordingDirectory(directory, directory.connection, tenant_id, context)
            recorder.create_user({"userName": "rolled@back"})
            recorder.flush()
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with database.connect(write=False) as connection:
        assert page(connection, tenant_id, ActivityFilter())[0] == 0
    with database.directory(tenant_id) as directory:
        recorder = RecordingDirectory(directory, directory.connection, tenant_id, context)
        stored = recorder.create_user({"userName": "kept@contoso.com", "password": "x"})
        assert recorder.flush() == 1
    with database.connect(write=False) as connection:
        total, entries = page(connection, tenant_id, ActivityFilter())
    assert total == 1
    assert entries[0].resource_id == stored.id
    assert entries[0].client == "test-agent"
    assert {c["path"] for c in entries[0].changes} == {"userName"}


def test_savepoint_rollback_forgets_its_changes(database: Database, tenant_id: str) -> None:
    """A bulk operation undone by its savepoint leaves no activity row."""
    context = RequestContext("POST", f"{SCIM_PREFIX}/Bulk")
    with database.directory(tenant_id) as directory:
        recorder = RecordingDirectory(directory, directory.connection, tenant_id, context)
        try:
            with recorder.savepoint():
                recorder.create_user({"userName": "undone@contoso.com"})
                raise ValueError("bulk op failed")
        except ValueError:
            pass
        recorder.create_user({"userName": "done@contoso.com"})
        assert [row["resource_name"] for row in recorder.changes()] == ["done@contoso.com"]


async def _scim(database: Database, settings: Settings, api_key: str) -> httpx.AsyncClient:
    app = console_app(database, settings)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://testserver{SCIM_PREFIX}",
        headers={"Authorization": f"Bearer {api_key}", "User-Agent": "Azure AD SCIM test"},
    )


async def test_scim_requests_are_logged_with_changes_and_failures(
    database: Database, settings: Settings, tenant_id: str, api_key: str
) -> None:
    """Create, PATCH, group membership, delete and a 409 all appear; reads and secrets don't."""
    async with await _scim(database, settings, api_key) as scim:
        created = await scim.post("/Users", json=USER)
        assert created.status_code == 201
        user_id = created.json()["id"]
        patched = await scim.patch(
            f"/Users/{user_id}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "displayName", "value": "Ada K."}],
            },
        )
        assert patched.status_code == 200
        group = await scim.post(
            "/Groups",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Reception",
                "members": [{"value": user_id}],
            },
        )
        assert group.status_code == 201
        assert (await scim.get("/Users")).status_code == 200
        assert (await scim.post("/Users", json=USER)).status_code == 409
        assert (await scim.delete(f"/Users/{user_id}")).status_code == 204
    with database.connect(write=False) as connection:
        total, entries = page(connection, tenant_id, ActivityFilter())
        failures = page(connection, tenant_id, ActivityFilter(outcome="failure"))[1]
        csv_text = "".join(export_csv(connection, tenant_id, ActivityFilter()))
    ops = [(e.operation, e.resource_type, e.status) for e in reversed(entries)]
    assert ops == [
        ("create", "User", 201),
        ("update", "User", 200),
        ("create", "Group", 201),
        ("create", "User", 409),
        ("delete", "User", 204),
    ]
    assert total == 5
    update = next(e for e in entries if e.operation == "update")
    assert update.changes == [{"path": "displayName", "old": "Ada Lovelace", "new": "Ada K."}]
    group_entry = next(e for e in entries if e.resource_type == "Group")
    assert {"path": "members added", "old": None, "new": [user_id]} in group_entry.changes
    assert failures[0].detail and "already taken" in failures[0].detail
    assert all(e.client == "Azure AD SCIM test" for e in entries)
    assert "hunter2" not in csv_text
    assert "password" not in csv_text
    assert csv_text.startswith("\ufefftime,client,actor")  # a BOM: Excel reads UTF-8
    changes = {(row[7], row[5]): row[11] for row in csv.reader(io.StringIO(csv_text[1:]))}
    assert changes[(user_id, "update")] == "Display name: Ada Lovelace → Ada K."
    assert "Work e-mail: — → ada@contoso.com" in changes[(user_id, "create")]
    group_id = group_entry.resource_id
    assert changes[(group_id, "create")] == "Display name: — → Reception; Members added: Ada K."
    assert "None" not in csv_text and "'Ada" not in csv_text  # no Python reprs


def test_prune_removes_only_old_rows(database: Database, tenant_id: str) -> None:
    """Rows older than the retention period go; newer ones stay."""
    context = RequestContext("DELETE", f"{SCIM_PREFIX}/Users/x")
    with database.directory(tenant_id) as directory:
        recorder = RecordingDirectory(directory, directory.connection, tenant_id, context)
        recorder.create_user({"userName": "old@contoso.com"})
        recorder.flush()
        recorder.create_user({"userName": "new@contoso.com"})
        recorder.flush()
    with database.connect(write=True) as connection:
        connection.execute(
            update(activity)
            .where(activity.c.tenant_id == tenant_id, activity.c.resource_name == "old@contoso.com")
            .values(at=now() - timedelta(days=91))
        )
        assert prune(connection, 90, tenant_id) == 1
        _, entries = page(connection, tenant_id, ActivityFilter())
    assert [e.resource_name for e in entries] == ["new@contoso.com"]


def _flattened_plainly(document: Any, prefix: str = "") -> dict[str, Any]:
    """flatten() as its docstring defines it, one call a node."""
    if isinstance(document, dict) and document:
        out: dict[str, Any] = {}
        for key, value in document.items():
            if str(key).replace("-", "_").lower() not in SECRET_NAMES:
                out.update(_flattened_plainly(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(document, list) and document:
        out = {}
        for index, value in enumerate(document):
            out.update(_flattened_plainly(value, f"{prefix}[{index}]"))
        return out
    if isinstance(document, str) and len(document) > MAX_VALUE_CHARS:
        document = document[:MAX_VALUE_CHARS] + "…"
    return {prefix: document} if prefix else {}


_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=3)
    | st.just("v" * (MAX_VALUE_CHARS + 5))
    | st.just({})
    | st.just([]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "B", "password", "x-y"]), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(st.sampled_from(["u", "v", "api_key", "w"]), _documents))
def test_flatten_is_its_plain_definition(document: dict[str, Any]) -> None:
    assert flatten(document) == _flattened_plainly(document)
