"""The whole loop against a live hostsync server, in-process (issue 5 §7)."""

from __future__ import annotations

from typing import Any

import httpx

from hostsync.engine.ports import Kind
from hostsync.engine.state import FileLogSink, FileSyncState
from tests.engine.conftest import JobDir, Target, make_runner

HOST_ROLE = "7a2e1c90-0000-4000-8000-000000000001"


def _drop_assignment(document: dict[str, Any], principal: str) -> None:
    document["appRoleAssignments"] = [
        a for a in document["appRoleAssignments"] if a["principalId"] != principal
    ]


async def _cycle(job_dir: JobDir, target: Target, extra: str = "") -> Any:
    job = job_dir.write_job(extra, token=target.api_key)
    return await make_runner(job, target.transport).run_cycle()


async def test_initial_cycle_provisions_assigned_users_groups_and_managers(
    job_dir: JobDir, target: Target
) -> None:
    """Assigned users and the assigned group are created; managers and members are linked."""
    report = await _cycle(job_dir, target)
    assert report.type == "initial"
    assert report.state == "Succeeded"
    names = sorted(u["userName"] for u in await target.users())
    assert names == ["ana@contoso.com", "bob@contoso.com", "cy@contoso.com"]
    ana, bob = await target.user("ana@contoso.com"), await target.user("bob@contoso.com")
    assert ana is not None and bob is not None
    enterprise = ana["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert enterprise["manager"]["value"] == bob["id"]
    assert ana["name"]["formatted"] == "Ana Lopez"
    assert ana["phoneNumbers"][1] == {"type": "mobile", "value": "+1 512 555 0101"}
    group = await target.group("Hosts")
    assert group is not None
    assert group["externalId"] == "g-hosts"
    members = {m["value"] for m in group["members"]}
    cy = await target.user("cy@contoso.com")
    assert cy is not None
    assert members == {ana["id"], cy["id"]}


async def test_default_access_and_disabled_users_are_skipped_not_created(
    job_dir: JobDir, target: Target
) -> None:
    """Dee (Default Access only) and Eve (accountEnabled=false) are logged as skipped."""
    report = await _cycle(job_dir, target)
    skipped = {
        e["sourceIdentity"]["displayName"]: e["skipReason"]
        for e in report.entries
        if e["status"] == "skipped"
    }
    assert skipped == {
        "dee@contoso.com": "NotEffectivelyEntitled",
        "eve@contoso.com": "AccountDisabled",
    }
    assert await target.user("dee@contoso.com") is None


async def test_incremental_cycle_sends_only_what_changed(job_dir: JobDir, target: Target) -> None:
    """An unchanged directory costs no request; one changed title costs one PATCH."""
    await _cycle(job_dir, target)
    quiet = await _cycle(job_dir, target)
    assert (quiet.type, quiet.requests, quiet.entries) == ("incremental", 0, [])
    document = job_dir.source()
    job_dir.user(document, "u-ana")["jobTitle"] = "Head Receptionist"
    job_dir.write_source(document)
    report = await _cycle(job_dir, target)
    assert report.requests == 1
    [entry] = report.entries
    assert entry["provisioningAction"] == "update"
    assert entry["modifiedProperties"] == [
        {"displayName": "title", "oldValue": "Receptionist", "newValue": "Head Receptionist"}
    ]
    ana = await target.user("ana@contoso.com")
    assert ana is not None and ana["title"] == "Head Receptionist"


async def test_unassign_disables_and_reassign_reactivates_the_same_id(
    job_dir: JobDir, target: Target
) -> None:
    """Unassigned → active=false; assigned again → active=true on the same target id."""
    await _cycle(job_dir, target)
    before = await target.user("bob@contoso.com")
    assert before is not None
    original = job_dir.source()
    document = job_dir.source()
    _drop_assignment(document, "u-bob")
    job_dir.write_source(document)
    report = await _cycle(job_dir, target)
    actions = [(e["provisioningAction"], e["sourceIdentity"]["id"]) for e in report.entries]
    assert ("disable", "u-bob") in actions
    disabled = await target.user("bob@contoso.com")
    assert disabled is not None and disabled["active"] is False
    job_dir.write_source(original)
    await _cycle(job_dir, target)
    after = await target.user("bob@contoso.com")
    assert after is not None
    assert (after["id"], after["active"]) == (before["id"], True)


async def test_soft_delete_disables_then_hard_delete_deletes(
    job_dir: JobDir, target: Target
) -> None:
    """deleted=true → disable; gone from the source afterwards → DELETE (404 from then on)."""
    await _cycle(job_dir, target)
    document = job_dir.source()
    job_dir.user(document, "u-bob")["deleted"] = True
    job_dir.write_source(document)
    await _cycle(job_dir, target)
    bob = await target.user("bob@contoso.com")
    assert bob is not None and bob["active"] is False
    document["users"] = [u for u in document["users"] if u["id"] != "u-bob"]
    _drop_assignment(document, "u-bob")
    job_dir.write_source(document)
    report = await _cycle(job_dir, target)
    assert [e["provisioningAction"] for e in report.entries] == ["delete"]
    assert await target.user("bob@contoso.com") is None
    response = await target.http.get(f"/Users/{bob['id']}")
    assert response.status_code == 404


async def test_hard_delete_disables_when_hard_deletes_are_off(
    job_dir: JobDir, target: Target
) -> None:
    """With hard_deletes = false a user gone from the source is disabled, never deleted."""
    extra = "[settings]\nhard_deletes = false"
    await _cycle(job_dir, target, extra)
    document = job_dir.source()
    document["users"] = [u for u in document["users"] if u["id"] != "u-bob"]
    job_dir.write_source(document)
    await _cycle(job_dir, target, extra)
    bob = await target.user("bob@contoso.com")
    assert bob is not None and bob["active"] is False


async def test_scoping_filter_change_disables_users_that_fall_out(
    job_dir: JobDir, target: Target
) -> None:
    """A new filter forces an initial cycle; users outside it are disabled."""
    await _cycle(job_dir, target)
    extra = (
        "[[users.scoping_filters]]\n"
        'clauses = [{attribute = "department", operator = "EQUALS", value = "Front Desk"}]'
    )
    report = await _cycle(job_dir, target, extra)
    assert report.type == "initial"
    disabled = sorted(
        e["sourceIdentity"]["id"] for e in report.entries if e["provisioningAction"] == "disable"
    )
    assert disabled == ["u-bob", "u-cy"]
    ana = await target.user("ana@contoso.com")
    assert ana is not None and ana["active"] is True


async def test_group_membership_changes_are_patched_as_set_differences(
    job_dir: JobDir, target: Target
) -> None:
    """Adding bob and removing cy sends one PATCH carrying both changes."""
    await _cycle(job_dir, target)
    document = job_dir.source()
    document["groups"][0]["members"] = ["u-ana", "u-bob"]
    job_dir.write_source(document)
    report = await _cycle(job_dir, target)
    group = await target.group("Hosts")
    bob, ana = await target.user("bob@contoso.com"), await target.user("ana@contoso.com")
    assert group is not None and bob is not None and ana is not None
    assert {m["value"] for m in group["members"]} == {ana["id"], bob["id"]}
    cy = await target.user("cy@contoso.com")
    assert cy is not None and cy["active"] is False  # cy was assigned only through the group
    membership = [e for e in report.entries if e["sourceIdentity"]["identityType"] == "Group"]
    assert len(membership) == 1


async def test_dry_run_plans_but_sends_no_write(job_dir: JobDir, target: Target) -> None:
    """A dry run reads the target, plans every create, and leaves the target and state alone."""
    job = job_dir.write_job(token=target.api_key)
    report = await make_runner(job, target.transport, dry_run=True).run_cycle()
    assert report.plan is not None
    creates = [a.display for a in report.plan.actions() if a.action == "create"]
    assert len(creates) == 4  # three users and the group
    assert await target.users() == []
    assert not job.state_path.exists()


async def test_state_file_records_links_and_the_watermark(job_dir: JobDir, target: Target) -> None:
    """After a cycle the state file links each object to its target id; logs are JSON lines."""
    await _cycle(job_dir, target)
    job = job_dir.write_job(token=target.api_key)
    state = FileSyncState(job.state_path).load()
    ana = await target.user("ana@contoso.com")
    assert ana is not None
    link = state.link(Kind.USER, "u-ana")
    assert link is not None and link.target_id == ana["id"]
    assert state.watermark is not None
    entries = FileLogSink(job.log_path).read()
    assert (
        {e["cycleId"] for e in entries} == {state.last_cycle["cycleId"]}
        if state.last_cycle
        else False
    )


class Flaky(httpx.AsyncBaseTransport):
    """Wraps a transport: answers 429 or fails to connect on chosen requests."""

    def __init__(self, inner: httpx.AsyncBaseTransport, mode: str, every: int = 2) -> None:
        self.inner = inner
        self.mode = mode
        self.every = every
        self.count = 0
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        if self.mode == "429" and self.count % self.every == 0:
            return httpx.Response(429, headers={"Retry-After": "1"}, request=request)
        if self.mode == "down" and self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "down" and self.count >= self.every:
            self.down = True
        return await self.inner.handle_async_request(request)


async def test_429_storm_is_waited_out_without_duplicates(job_dir: JobDir, target: Target) -> None:
    """Every third request answers 429; the cycle still provisions everything exactly once."""
    job = job_dir.write_job(token=target.api_key)
    flaky = Flaky(target.transport, "429", every=3)
    report = await make_runner(job, flaky).run_cycle()
    assert report.state == "Succeeded"
    assert sorted(u["userName"] for u in await target.users()) == [
        "ana@contoso.com",
        "bob@contoso.com",
        "cy@contoso.com",
    ]


async def test_server_down_mid_cycle_fails_entries_and_next_cycle_recovers(
    job_dir: JobDir, target: Target
) -> None:
    """Connection failures become entry-level errors; the next cycle finishes the job."""
    job = job_dir.write_job(token=target.api_key)
    flaky = Flaky(target.transport, "down", every=3)
    broken = await make_runner(job, flaky).run_cycle()
    assert broken.state == "EntryLevelErrors"
    failures = [e for e in broken.entries if e["status"] == "failure"]
    assert failures and all(e["errorCode"] for e in failures)
    healed = await make_runner(job, target.transport).run_cycle()
    assert healed.state == "Succeeded"
    names = sorted(u["userName"] for u in await target.users())
    assert names == ["ana@contoso.com", "bob@contoso.com", "cy@contoso.com"]
    group = await target.group("Hosts")
    assert group is not None and len(group["members"]) == 2
