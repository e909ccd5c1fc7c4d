"""python-scim's scim2-server, seeded like hostsync, served under uvicorn (for bench/compare.py).

Runs in its own virtual environment (bench/compare.py makes it), never in hostsync's:

    python bench/scim2_app.py --users 10000 --out DIR --port 8081

It builds scim2-server's ASGI application over its in-memory storage, accepts one bearer
token, seeds N users and the two groups through the application itself (in-process ASGI
calls: the same validation and indexing as over HTTP, without the sockets), writes the same
data files as bench/seed.py, then serves on uvicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import uvicorn
from scim2_models import ScimProvider, UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.service import ScimService
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asgi_call import call_asgi
from bodies import BIG_GROUP_MEMBERS, GROUP_SCHEMA, SMALL_GROUP_MEMBERS, user_body


class BearerApplication(ASGIApplication):
    """scim2-server's ASGI application, accepting one bearer token."""

    def __init__(self, token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token

    def check_auth(self, request: Any) -> None:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != self.token:
            raise UnauthorizedException


def build(token: str) -> BearerApplication:
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=load_default_service_provider_config(),
    )
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerApplication(
        token, storage=AsyncInMemoryStorage(), provider=provider, service=service
    )


async def call(app: Any, token: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    """One in-process ASGI request."""
    raw = json.dumps(body).encode()
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/scim+json"),
            (b"content-length", str(len(raw)).encode()),
        ],
    }
    status, answer = await call_asgi(app, scope, raw)
    return status, json.loads(answer or b"null")


async def seed(app: Any, token: str, users: int, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    ids: list[str] = []
    with (out / "users.tsv").open("w") as users_file:
        for i in range(users):
            status, created = await call(app, token, "POST", "/v2/Users", user_body(i))
            if status != 201:
                raise SystemExit(f"scim2-server refused a seeded user: {status} {created}")
            ids.append(created["id"])
            users_file.write(f"{created['id']}\t{created['userName']}\t{created['externalId']}\n")
    big = min(BIG_GROUP_MEMBERS, users // 2)
    small = min(SMALL_GROUP_MEMBERS, users - big)
    group_ids = []
    for name, members in (("All Hosts", ids[:big]), ("Front Desk", ids[big : big + small])):
        body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": name,
            "members": [{"value": member} for member in members],
        }
        status, created = await call(app, token, "POST", "/v2/Groups", body)
        if status != 201:
            raise SystemExit(f"scim2-server refused a seeded group: {status} {created}")
        group_ids.append(created["id"])
    pool = ids[big + small :]
    (out / "pool.tsv").write_text("".join(f"{user_id}\n" for user_id in pool))
    manifest = {
        "api_key": token,
        "users": users,
        "big_group_id": group_ids[0],
        "big_group_members": big,
        "small_group_id": group_ids[1],
        "small_group_members": small,
        "pool": len(pool),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    token = "bench-" + secrets.token_urlsafe(16)
    app = build(token)
    asyncio.run(seed(app, token, args.users, args.out))
    print(f"scim2-server: seeded {args.users} users", file=sys.stderr, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
