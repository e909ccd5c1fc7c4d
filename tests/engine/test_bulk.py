"""Large-directory paths: listing-based matching, managers in the POST, digests, state saves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from random import Random
from typing import Any

import httpx

from hostsync.engine import planner
from hostsync.engine.client import ScimClient
from hostsync.engine.jobs import Job
from hostsync.engine.mappings import MANAGER_PATH
from hostsync.engine.matching import TargetIndex
from hostsync.engine.planner import Create, Lookup, Skip, Update
from hostsync.engine.ports import JobState, Kind
from hostsync.engine.runner import Runner
from hostsync.engine.sources import open_source
from hostsync.engine.state import FileSyncState
from tests.engine.conftest import JobDir, Target, make_runner

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class Recording(httpx.AsyncBaseTransport):
    """Passes requests to the live app and keeps (method, path, params, JSON body) of each."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tamper_total: int = 0) -> None:
        self.inner = inner
        self.tamper_total = tamper_total
        self.sent: list[tuple[str, str, dict[str, str], Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        params = dict(request.url.params)
        self.sent.append((request.method, request.url.path.rsplit("/SCIM", 1)[1], params, body))
        response = await self.inner.handle_async_request(request)
        if self.tamper_total and "startIndex" in params:
            await response.aread()
            document = json.loads(response.content)
            document["totalResults"] += self.tamper_total  # pages that do not add up
            return httpx.Response(response.status_code, json=document)
        return response

    def requests(self, method: str, path: str) -> list[tuple[dict[str, str], Any]]:
        return [(p, b) for m, pa, p, b in self.sent if m == method and pa == path]


def _job(job_dir: JobDir, target: Target, settings: str = "") -> Job:
    return job_dir.write_job(f"[settings]\n{settings}" if settings else "", token=target.api_key)


async def _run(job: Job, transport: httpx.AsyncBaseTransport) -> Any:
    return await make_runner(job, transport).run_cycle()


async def _create_user(target: Target, user_name: str, **extra: Any) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
    response = await target.http.post("/Users", json={**body, **extra})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --------------------------------------------------------------------------- listing


async def test_listing_adopts_an_existing_target_user_without_filter_queries(
    job_dir: JobDir, target: Target
) -> None:
    """matching = "list": one paged GET per type, no filter query; ana's id is adopted."""
    existing = await _create_user(target, "ANA@contoso.com", title="Old title")
    recording = Recording(target.transport)
    report = await _run(_job(job_dir, target, 'matching = "list"'), recording)
    assert report.state == "Succeeded"
    user_gets = recording.requests("GET", "/Users")
    assert user_gets and all("filter" not in params for params, _ in user_gets)
    assert all("startIndex" in params for params, _ in user_gets)
    assert "userName" in user_gets[0][0]["attributes"].split(",")
    ana = await target.user("ana@contoso.com")
    assert ana is not None and ana["id"] == existing and ana["title"] == "Receptionist"
    entries = [e for e in report.entries if e["sourceIdentity"]["id"] == "u-ana"]
    assert {e["provisioningAction"] for e in entries} == {"update"}  # adopted, then manager
    assert {e["targetIdentity"]["id"] for e in entries} == {existing}
    assert len(recording.requests("POST", "/Users")) == 2  # bob and cy only


async def test_auto_matching_queries_each_object_of_a_small_set(
    job_dir: JobDir, target: Target
) -> None:
    """Three users to match: per-object filter queries (Entra's), no listing."""
    recording = Recording(target.transport)
    await _run(_job(job_dir, target), recording)
    user_gets = recording.requests("GET", "/Users")
    assert len(user_gets) == 3
    assert all(params["filter"].startswith("userName eq ") for params, _ in user_gets)


async def test_a_listing_that_does_not_add_up_falls_back_to_queries(
    job_dir: JobDir, target: Target
) -> None:
    """totalResults larger than the pages delivered: the listing is dropped, queries run."""
    existing = await _create_user(target, "ana@contoso.com")
    recording = Recording(target.transport, tamper_total=1)
    report = await _run(_job(job_dir, target, 'matching = "list"'), recording)
    assert report.state == "Succeeded"
    filters = [p["filter"] for p, _ in recording.requests("GET", "/Users") if "filter" in p]
    assert 'userName eq "ana@contoso.com"' in filters
    ana = await target.user("ana@contoso.com")
    assert ana is not None and ana["id"] == existing


def test_index_follows_matching_precedence_and_reports_duplicates() -> None:
    """The first matching attribute that finds anything decides; two finds are duplicates."""
    documents = [
        {"id": "1", "userName": "Ana@Contoso.com", "externalId": "ana"},
        {"id": "2", "userName": "other@contoso.com", "externalId": "ANA-X"},
        {"id": "3", "userName": "twin@contoso.com", "externalId": "twin"},
        {"id": "4", "userName": "TWIN@contoso.com", "externalId": "twin2"},
    ]
    index = TargetIndex(documents, ["externalId", "userName"])
    found = index.match([("externalId", "ANA-X"), ("userName", "ana@contoso.com")])
    assert found.document is not None and found.document["id"] == "2"
    # externalId is caseExact (RFC 7643 §3.1): "ana-x" finds nothing, userName decides
    found = index.match([("externalId", "ana-x"), ("userName", "ana@contoso.com")])
    assert found.document is not None and found.document["id"] == "1"
    assert found.matched_by == "userName eq 'ana@contoso.com'"
    twins = index.match([("userName", "twin@contoso.com"), ("externalId", "twin")])
    assert (twins.document, twins.candidates) == (None, 2)
    assert index.match([("userName", "nobody@contoso.com")]).document is None


def test_index_resolves_links_by_id_and_rematches_a_lost_anchor() -> None:
    """A linked id in the listing is found; one absent from it is matched again (InvalidAnchor)."""
    index = TargetIndex([{"id": "7", "userName": "ana@contoso.com"}], ["userName"])
    linked = index.resolve(Lookup(Kind.USER, "u-ana", "7", (("userName", "x@y"),)))
    assert linked.document is not None and linked.matched_by == "id"
    lost = index.resolve(Lookup(Kind.USER, "u-ana", "9", (("userName", "ana@contoso.com"),)))
    assert lost.anchor_lost and lost.document is not None and lost.document["id"] == "7"


# --------------------------------------------------------------------------- managers


async def test_managers_are_created_first_and_carried_in_the_post(
    job_dir: JobDir, target: Target
) -> None:
    """bob is POSTed before ana, whose POST carries bob's id: no manager PATCH at all."""
    recording = Recording(target.transport)
    await _run(_job(job_dir, target), recording)
    posts = [body for _, body in recording.requests("POST", "/Users")]
    names = [body["userName"] for body in posts]
    assert names.index("bob@contoso.com") < names.index("ana@contoso.com")
    bob = await target.user("bob@contoso.com")
    ana_post = posts[names.index("ana@contoso.com")]
    assert bob is not None and ana_post[ENTERPRISE]["manager"] == {"value": bob["id"]}
    assert not [p for m, p, _, _ in recording.sent if m == "PATCH" and p.startswith("/Users")]
    ana = await target.user("ana@contoso.com")
    assert ana is not None and ana[ENTERPRISE]["manager"]["value"] == bob["id"]


async def test_a_manager_cycle_is_cut_and_the_leftover_patched(
    job_dir: JobDir, target: Target
) -> None:
    """ana → bob → ana: one POST goes without its manager, one PATCH links it afterwards."""
    document = job_dir.source()
    job_dir.user(document, "u-bob")["manager"] = {"id": "u-ana"}
    job_dir.write_source(document)
    recording = Recording(target.transport)
    report = await _run(_job(job_dir, target), recording)
    assert report.state == "Succeeded"
    patches = [p for m, p, _, _ in recording.sent if m == "PATCH" and p.startswith("/Users")]
    assert len(patches) == 1
    ana, bob = await target.user("ana@contoso.com"), await target.user("bob@contoso.com")
    assert ana is not None and bob is not None
    assert ana[ENTERPRISE]["manager"]["value"] == bob["id"]
    assert bob[ENTERPRISE]["manager"]["value"] == ana["id"]


async def test_entra_legacy_dialect_keeps_the_manager_patch(
    job_dir: JobDir, target: Target
) -> None:
    """entra-legacy sends Entra's two requests: the POST, then PATCH path "manager"."""
    recording = Recording(target.transport)
    await _run(_job(job_dir, target, 'dialect = "entra-legacy"'), recording)
    posts = [body for _, body in recording.requests("POST", "/Users")]
    assert posts and all("manager" not in body.get(ENTERPRISE, {}) for body in posts)
    patches = [b for m, p, _, b in recording.sent if m == "PATCH" and p.startswith("/Users")]
    assert [op["path"] for body in patches for op in body["Operations"]] == ["manager"]


def test_waves_order_creates_along_the_manager_chain() -> None:
    """Depth follows the chain; non-creates and creates with a known manager go first."""

    def create(source_id: str, manager: str | None) -> Create:
        return Create(Kind.USER, source_id, source_id, {}, (), (), manager)

    update = Update(Kind.USER, "u-old", "u-old", "t-1", (), {})
    actions = [
        create("c", "b"),
        create("b", "a"),
        update,
        create("a", "on-target"),
        create("x", "y"),
        create("y", "x"),
    ]
    waves = planner.waves(actions)
    assert [[a.source_id for a in wave] for wave in waves] == [
        ["u-old", "a", "y"],
        ["b", "x"],
        ["c"],
    ]


# --------------------------------------------------------------------------- digests


def _evaluate(job: Job, previous: JobState | None) -> dict[str, planner.Evaluated]:
    snapshot = open_source(job.config.source.type, job.source_path).read()
    clock = lambda: datetime(2026, 11, 29, tzinfo=UTC)  # noqa: E731
    return planner.evaluate_source(job, snapshot, clock=clock, rng=Random(0), previous=previous)


async def test_unchanged_users_are_not_mapped_again_and_a_change_is_sent(
    job_dir: JobDir, target: Target
) -> None:
    """After a cycle every user is unchanged; a new title makes ana alone mapped and PATCHed."""
    job = _job(job_dir, target)
    await _run(job, target.transport)
    state = FileSyncState(job.state_path).load()
    assert all(link.digest for link in state.links.values() if link.kind is Kind.USER)
    evaluated = _evaluate(job, state)
    users = [item for item in evaluated.values() if item.kind is Kind.USER and item.entitled]
    assert users and all(item.unchanged for item in users)
    document = job_dir.source()
    job_dir.user(document, "u-ana")["jobTitle"] = "Head Receptionist"
    job_dir.write_source(document)
    evaluated = _evaluate(job, state)
    changed = [k for k, item in evaluated.items() if item.kind is Kind.USER and not item.unchanged]
    assert "User:u-ana" in changed and "User:u-bob" not in changed
    recording = Recording(target.transport)
    report = await _run(job, recording)
    [(_, body)] = recording.requests("PATCH", f"/Users/{state.links['User:u-ana'].target_id}")
    assert body["Operations"] == [{"op": "replace", "path": "title", "value": "Head Receptionist"}]
    assert len(recording.sent) == 1 and len(report.entries) == 1


async def test_a_user_whose_manager_is_missing_keeps_no_digest_and_gets_it_later(
    job_dir: JobDir, target: Target
) -> None:
    """ana's manager is unassigned: no digest, so once bob is assigned ana's manager is set."""
    original = job_dir.source()
    document = job_dir.source()
    document["appRoleAssignments"] = [
        a for a in document["appRoleAssignments"] if a["principalId"] != "u-bob"
    ]
    job_dir.write_source(document)
    job = _job(job_dir, target)
    await _run(job, target.transport)
    state = FileSyncState(job.state_path).load()
    assert state.links["User:u-ana"].digest is None
    assert state.links["User:u-cy"].digest is not None
    job_dir.write_source(original)
    await _run(job, target.transport)
    ana, bob = await target.user("ana@contoso.com"), await target.user("bob@contoso.com")
    assert ana is not None and bob is not None
    assert ana[ENTERPRISE]["manager"]["value"] == bob["id"]
    assert FileSyncState(job.state_path).load().links["User:u-ana"].digest is not None


async def test_an_escrowed_user_is_mapped_again_and_keeps_no_digest(
    job_dir: JobDir, target: Target
) -> None:
    """A user whose PATCH failed keeps no digest: the next cycle retries it."""
    job = _job(job_dir, target)
    await _run(job, target.transport)
    document = job_dir.source()
    job_dir.user(document, "u-ana")["jobTitle"] = "Head Receptionist"
    job_dir.write_source(document)

    async def refuse(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(400, json={"detail": "no"})
        return await target.transport.handle_async_request(request)

    report = await _run(job, httpx.MockTransport(refuse))
    assert report.counts.get("update:failure") == 1
    state = FileSyncState(job.state_path).load()
    assert state.links["User:u-ana"].digest is None
    assert not _evaluate(job, state)["User:u-ana"].unchanged
    await _run(job, target.transport)
    ana = await target.user("ana@contoso.com")
    assert ana is not None and ana["title"] == "Head Receptionist"


def test_reference_digest_ignores_key_order() -> None:
    """The digest is of content: the same attributes in another order digest the same."""
    one = planner.source_digest({"a": 1, "b": {"x": 1, "y": 2}})
    two = planner.source_digest({"b": {"y": 2, "x": 1}, "a": 1})
    assert one == two and one != planner.source_digest({"a": 2, "b": {"x": 1, "y": 2}})
    assert MANAGER_PATH.endswith(":manager")


# --------------------------------------------------------------------------- state saves


class CountingState(FileSyncState):
    """A file state that counts its saves."""

    saves = 0

    def save(self, state: JobState) -> None:
        self.saves += 1
        super().save(state)


def _counting_runner(job: Job, transport: httpx.AsyncBaseTransport) -> tuple[Runner, CountingState]:
    runner = make_runner(job, transport)
    store = CountingState(job.state_path)
    runner.store = store
    return runner, store


async def test_short_cycles_save_the_state_once(job_dir: JobDir, target: Target) -> None:
    """An initial cycle of a few objects, an unchanged one, and a changed one save once each."""
    job = _job(job_dir, target)
    for change in (None, None, "Head Receptionist"):
        if change is not None:
            document = job_dir.source()
            job_dir.user(document, "u-ana")["jobTitle"] = change
            job_dir.write_source(document)
        runner, store = _counting_runner(job, target.transport)
        report = await runner.run_cycle()
        assert report.state == "Succeeded"
        assert store.saves == 1
    assert FileSyncState(job.state_path).load().links["User:u-ana"].exported["title"] == change


async def test_a_long_cycle_saves_checkpoints(
    job_dir: JobDir, target: Target, monkeypatch: Any
) -> None:
    """A plan at or above CHECKPOINT_MINIMUM saves before it starts and after each phase."""
    monkeypatch.setattr("hostsync.engine.runner.CHECKPOINT_MINIMUM", 3)
    runner, store = _counting_runner(_job(job_dir, target), target.transport)
    await runner.run_cycle()
    # start, users, groups, memberships, end: ana's manager went in the POST, so the
    # references phase sent nothing and saved nothing
    assert store.saves == 5


# --------------------------------------------------------------------------- connection pools


async def test_concurrency_is_spread_over_small_connection_pools() -> None:
    """concurrency 16 → four pools of four connections, four lanes each, all released."""
    async with ScimClient("http://127.0.0.1:9/scim", "t", concurrency=16) as client:
        assert len(client.pools) == 4 and client.lanes.qsize() == 16
        lanes = [client.lanes.get_nowait() for _ in range(16)]
        assert {id(pool): lanes.count(pool) for pool in client.pools} == {
            id(pool): 4 for pool in client.pools
        }


async def test_skips_do_not_make_a_cycle_long(
    job_dir: JobDir, target: Target, monkeypatch: Any
) -> None:
    """Only actions that send requests count towards CHECKPOINT_MINIMUM: a changed cycle with
    one update among many skips (unchanged groups) still saves once."""
    job = _job(job_dir, target)
    runner, _ = _counting_runner(job, target.transport)
    assert (await runner.run_cycle()).state == "Succeeded"
    document = job_dir.source()
    job_dir.user(document, "u-ana")["jobTitle"] = "Head Receptionist"
    job_dir.write_source(document)
    monkeypatch.setattr("hostsync.engine.runner.CHECKPOINT_MINIMUM", 2)
    runner, store = _counting_runner(job, target.transport)
    report = await runner.run_cycle()
    assert report.plan is not None
    skips = [action for action in report.plan.actions() if isinstance(action, Skip)]
    assert len(skips) >= 2 and len(report.plan.actions()) - len(skips) == 1
    assert store.saves == 1
