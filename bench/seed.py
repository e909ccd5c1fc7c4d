"""Seed a hostsync database for the benchmark: one tenant, N users, and groups.

Goes through the store (``SqlDirectory.import_users`` / ``create_group``), not HTTP, so
100,000 users take seconds and 1,000,000 about a minute. Documents are Entra-shaped and
normalised exactly as a POST would normalise them.

Writes, next to the database, the files the wrk Lua scripts read (one record per line):

* ``users.tsv``: ``id<TAB>userName<TAB>externalId`` of every seeded user;
* ``pool.tsv``: ids of users that are in neither group (group-add-member adds these);
* ``manifest.json``: tenant id, API key, group ids and sizes.

    python bench/seed.py --database-url sqlite:///bench.db --out DIR --users 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bodies import (  # noqa: E402 - bench/ is a directory of scripts
    BIG_GROUP_MEMBERS,
    CHUNK,
    GROUP_SCHEMA,
    SMALL_GROUP_MEMBERS,
    user_body,
    user_name,
)

from hostsync.scim.resources import normalize_resource  # noqa: E402
from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE  # noqa: E402
from hostsync.store.database import Database  # noqa: E402
from hostsync.store.tenants import create_key, create_tenant  # noqa: E402


def seed(
    database_url: str,
    out: Path,
    users: int,
    *,
    big_group: int | None = None,
    small_group: int = SMALL_GROUP_MEMBERS,
    extra_groups: int = 20,
    quiet: bool = False,
) -> dict[str, Any]:
    """Fill a fresh tenant; write users.tsv, pool.tsv and manifest.json into ``out``."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    database = Database(database_url)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Bench Company")
        _, api_key = create_key(connection, tenant.id, "bench")

    ids: list[str] = []
    with (out / "users.tsv").open("w") as users_file:
        for start in range(0, users, CHUNK):
            stop = min(users, start + CHUNK)
            documents = [
                normalize_resource(user_body(i), USER_RESOURCE) for i in range(start, stop)
            ]
            with database.directory(tenant.id) as directory:
                created = directory.import_users(documents)
            for i, user_id in zip(range(start, stop), created, strict=True):
                users_file.write(f"{user_id}\t{user_name(i)}\text-{i:07d}\n")
            ids.extend(created)
            if not quiet and stop % 100_000 == 0:
                print(f"seed: {stop} users", file=sys.stderr)

    # Statistics before the groups: without them PostgreSQL checks a big group's members
    # (live users of the tenant, store/directory.py) by walking the tenant's rows for each
    # chunk of ids instead of probing the id index (100,000 users: 97 s instead of 10 s).
    refresh_statistics(database)
    # The big group takes the first users; the small group the next ones; the rest is the
    # pool that group-add-member draws from (so the big group is never short of new members).
    big = min(BIG_GROUP_MEMBERS if big_group is None else big_group, max(0, users // 2))
    small = min(small_group, max(0, users - big))
    big_members, small_members = ids[:big], ids[big : big + small]
    pool = ids[big + small :]
    with database.directory(tenant.id) as directory:
        big_id = _group(directory, "All Hosts", big_members)
        small_id = _group(directory, "Front Desk", small_members)
        for n in range(extra_groups):
            _group(directory, f"Team {n:03d}", [])
    (out / "pool.tsv").write_text("".join(f"{user_id}\n" for user_id in pool))
    manifest = {
        "database_url": database_url,
        "tenant_id": tenant.id,
        "api_key": api_key,
        "users": users,
        "big_group_id": big_id,
        "big_group_members": big,
        "small_group_id": small_id,
        "small_group_members": small,
        "pool": len(pool),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    refresh_statistics(database)
    database.dispose()
    if not quiet:
        print(f"seed: {users} users in {manifest['seconds']} s", file=sys.stderr)
    return manifest


def refresh_statistics(database: Database) -> None:
    """What autovacuum would do after a bulk load, now: PostgreSQL plans deep pages with an
    index-only scan of (tenant, pk) only once the table's statistics and visibility map know
    its rows (without it, an OFFSET of 50,000 took 150 ms instead of 8 ms)."""
    if database.dialect != "postgresql":
        return
    with database.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("VACUUM ANALYZE users, groups, memberships")


def _group(directory: Any, name: str, members: list[str]) -> str:
    document = normalize_resource(
        {"schemas": [GROUP_SCHEMA], "displayName": name, "externalId": f"ext-{name}"},
        GROUP_RESOURCE,
    )
    return str(directory.create_group(document, members).id)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--big-group", type=int, default=None)
    args = parser.parse_args(argv)
    manifest = seed(args.database_url, args.out, args.users, big_group=args.big_group)
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
