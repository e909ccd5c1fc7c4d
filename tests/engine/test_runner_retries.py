"""The runner's create retry: look the object up before sending a POST again."""

from __future__ import annotations

import json

import httpx

from hostsync.engine.client import ScimClient
from hostsync.engine.wiring import runner_for
from tests.engine.conftest import JobDir, VirtualClock

CREATED = {"id": "t-1", "userName": "ana@contoso.com"}


async def test_create_that_landed_before_a_timeout_is_linked_not_duplicated(
    job_dir: JobDir,
) -> None:
    """POST times out after landing; the match query finds it, so no second POST is sent."""
    document = job_dir.source()
    document["users"] = [job_dir.user(document, "u-bob")]
    document["groups"] = []
    job_dir.write_source(document)
    job = job_dir.write_job("[groups]\nenabled = false")
    posts: list[httpx.Request] = []
    landed: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request)
            landed.append({"id": "t-1", **json.loads(request.content)})
            raise httpx.ReadTimeout("the server was slow to answer")
        if request.method == "GET":
            return httpx.Response(200, json={"totalResults": len(landed), "Resources": landed})
        return httpx.Response(200, json={})

    clock = VirtualClock()
    client = ScimClient(
        job.config.target.tenant_url,
        "secret",
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        clock=clock,
        rate=0,
    )
    runner = runner_for(job, client)
    report = await runner.run_cycle()
    await client.aclose()
    assert len(posts) == 1
    [entry] = report.entries
    assert (entry["status"], entry["targetIdentity"]["id"]) == ("success", "t-1")
    assert "userName eq" in (entry["provisioningSteps"][-2]["description"])
