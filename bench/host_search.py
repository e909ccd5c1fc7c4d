"""Benchmark the kiosk's host search: N hosts, one worker on one core, 16 kiosks searching.

    python bench/host_search.py                               # 1,000,000 hosts, SQLite
    python bench/host_search.py --hosts 100000 --duration 5   # a quick run
    python bench/host_search.py --database-url postgresql://postgres@127.0.0.1/bench_search
    python bench/host_search.py --reuse                       # skip seeding (same workdir)

Seeds one tenant (a fresh SQLite file, or a new tenant in PostgreSQL) with N Entra-shaped
hosts whose names are varied and accented (common given and family names of several
languages, weighted so that some are common, plus a long tail of made-up family names; some
hyphenated, some with an apostrophe, some with a middle name), through the store
(``SqlDirectory.import_users``, which keeps the search index as every write does). Then one
site (every host; ``--scope group``: the members of a group of half the hosts) with 16 kiosks,
``hostsync serve`` with one worker under ``taskset -c 0``, and ``wrk -t1 -c16`` under
``taskset -c 1`` with ``host_search.lua``: 2-5 letter prefixes and two-word queries, each
connection its own kiosk. Per-kiosk search limits are off (``HOSTSYNC_KIOSK_SEARCH_LIMIT=none``:
the benchmark measures the search, not the limiter).

Before the load it checks over HTTP that a deactivation by SCIM is reflected in the next
search (a host found, then PATCHed ``active: "False"``, then not found). Prints one JSON line
per step: the check, then searches/s with p50/p90/p99 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import unicodedata
import urllib.request
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (ROOT, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from run import (  # noqa: E402 - bench/ is a directory of scripts
    BenchError,
    database_kind,
    ensure_wrk,
    free_port,
    hostsync_server,
    pinned,
    run_wrk,
    warm_sqlite_file,
)

LUA = BENCH / "host_search.lua"
KIOSKS = 16
CHUNK = 5_000
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

GIVEN = [
    "José",
    "María",
    "Lucía",
    "Sofía",
    "Martín",
    "Andrés",
    "Camila",
    "Valentina",
    "Mateo",
    "Sebastián",
    "Ana",
    "Juan",
    "Pablo",
    "Élodie",
    "Chloé",
    "Léa",
    "Zoé",
    "Théo",
    "Hélène",
    "François",
    "Agnès",
    "Jérôme",
    "Benoît",
    "Cécile",
    "Gaëlle",
    "Noël",
    "Jürgen",
    "Jörg",
    "Günter",
    "Björn",
    "Sören",
    "Käthe",
    "Mareike",
    "Lukas",
    "Anna",
    "Leonie",
    "Maximilian",
    "Felix",
    "Øystein",
    "Åsa",
    "Bjørn",
    "Ingrid",
    "Sigrún",
    "Þórunn",
    "Ásgeir",
    "Ragnhild",
    "Eirik",
    "Linnéa",
    "Łukasz",
    "Paweł",
    "Małgorzata",
    "Wojciech",
    "Agnieszka",
    "Zofia",
    "Jakub",
    "Krzysztof",
    "Ewa",
    "Piotr",
    "João",
    "Conceição",
    "Gonçalo",
    "Inês",
    "Tomás",
    "Beatriz",
    "Rui",
    "Siobhán",
    "Seán",
    "Niamh",
    "Aoife",
    "Oisín",
    "Pádraig",
    "Caoimhe",
    "Mehmet",
    "Ayşe",
    "Çağla",
    "Gökhan",
    "Şükrü",
    "Elif",
    "Nguyễn",
    "Thảo",
    "Minh",
    "Đức",
    "Linh",
    "John",
    "Mary",
    "James",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Richard",
    "Jessica",
    "Joseph",
    "Sarah",
    "Thomas",
    "Karen",
    "Charles",
    "Nancy",
    "Christopher",
    "Lisa",
    "Daniel",
    "Betty",
    "Jo",
    "Joanna",
    "Johan",
    "Jonas",
    "Jonathan",
    "Jordan",
    "Josephine",
    "Joy",
    "Joaquín",
    "Jolene",
]
FAMILY = [
    "García",
    "Rodríguez",
    "Martínez",
    "Hernández",
    "López",
    "González",
    "Pérez",
    "Sánchez",
    "Ramírez",
    "Núñez",
    "Muñoz",
    "Jiménez",
    "Álvarez",
    "Gómez",
    "Díaz",
    "Peña",
    "Ibáñez",
    "Castaño",
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Lefèvre",
    "Mercier",
    "Girard",
    "Bonnet",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weiß",
    "Groß",
    "Köhler",
    "Schäfer",
    "Krüger",
    "Hoffmann",
    "Straße",
    "Hansen",
    "Johansen",
    "Sørensen",
    "Ødegård",
    "Håkonsen",
    "Lindqvist",
    "Åberg",
    "Nyström",
    "Bjørnstad",
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Wójcik",
    "Kamiński",
    "Lewandowski",
    "Zieliński",
    "Szymański",
    "Dąbrowski",
    "Łuczak",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Conceição",
    "Gonçalves",
    "Araújo",
    "Magalhães",
    "Murphy",
    "Kelly",
    "O'Brien",
    "O'Sullivan",
    "Walsh",
    "O'Connor",
    "McCarthy",
    "Ní",
    "Bhriain",
    "Y\u0131lmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Öztürk",
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Hill",
    "Green",
    "Adams",
    "Jean-Baptiste",
    "Saint-Exupéry",
    "Fernández-Castro",
    "Müller-Lüdenscheidt",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ra",
    "to",
    "su",
    "vi",
    "be",
    "da",
    "fe",
    "go",
    "hu",
    "ja",
    "ki",
    "le",
    "mo",
    "nu",
    "pa",
    "ri",
    "sa",
    "te",
    "ul",
    "va",
    "we",
    "xe",
    "yo",
    "za",
    "an",
    "el",
    "in",
    "on",
    "un",
    "ar",
    "er",
    "ir",
    "or",
    "ur",
    "ber",
    "dor",
    "fen",
    "gar",
    "hil",
    "kor",
    "lan",
    "mar",
    "nor",
    "pel",
    "quin",
    "ros",
    "sten",
    "tor",
    "vik",
]
ENDINGS = ("", "son", "sen", "berg", "ström", "ez", "ini", "ova", "escu", "ić", "ópoulos")


def _weights(count: int) -> list[float]:
    """Zipf-like: the first names are common, the last rare."""
    return [1.0 / (rank + 1) ** 0.8 for rank in range(count)]


def _made_up_family(rng: random.Random) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
    return (word + rng.choice(ENDINGS)).capitalize()


class Names:
    """Deterministic, varied host names (module doc)."""

    def __init__(self, seed: int = 20) -> None:
        self.rng = random.Random(seed)
        self.given_weights = _weights(len(GIVEN))
        self.family_weights = _weights(len(FAMILY))
        self.tail = [_made_up_family(random.Random(seed + i)) for i in range(20_000)]

    def next(self) -> tuple[str, str]:
        """(given name, family name)."""
        rng = self.rng
        given = rng.choices(GIVEN, self.given_weights)[0]
        if rng.random() < 0.1:
            given += " " + rng.choices(GIVEN, self.given_weights)[0]
        if rng.random() < 0.7:
            family = rng.choices(FAMILY, self.family_weights)[0]
        else:
            family = rng.choice(self.tail)
        if rng.random() < 0.04:
            family += "-" + rng.choice(self.tail)
        return given, family


def host_body(index: int, given: str, family: str) -> dict[str, Any]:
    """An Entra-shaped POST /Users body for host ``index``."""
    user_name = f"host{index:07d}@contoso.example"
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": f"ext-{index:07d}",
        "userName": user_name,
        "active": "True",
        "displayName": f"{given} {family}",
        "name": {"formatted": f"{given} {family}", "givenName": given, "familyName": family},
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "title": "Host",
        "phoneNumbers": [{"type": "work", "value": f"+1 555 {index % 10_000:04d}"}],
        ENTERPRISE: {"department": ("Sales", "Engineering", "Finance")[index % 3]},
    }


def _plain(text: str) -> str:
    """What a visitor without accents on their keyboard types."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def queries(count: int, seed: int = 21) -> list[str]:
    """2-5 letter prefixes of names (some with accents) and, for 30 %, two-word queries: a
    first name and 1-4 letters of a family name (what a visitor has typed by then)."""
    rng = random.Random(seed)
    names = Names(seed)
    out = []
    for _ in range(count):
        given, family = names.next()
        given, family = given.split()[0], family.split("-")[0].replace("'", "")
        plain = rng.random() < 0.7
        if plain:
            given, family = _plain(given), _plain(family)
        if rng.random() < 0.3:  # the first name typed, then the family name's first letters
            out.append(f"{given} {family[: rng.randint(1, 4)]}")
        else:
            out.append((given if rng.random() < 0.5 else family)[: rng.randint(2, 5)].lower())
    return out


def seed(database_url: str, workdir: Path, hosts: int, scope: str) -> dict[str, Any]:
    """Seed the hosts, a site and its kiosks; write manifest.json, kiosk.lua, queries.txt."""
    from hostsync.scim.resources import normalize_resource
    from hostsync.scim.schema import GROUP_RESOURCE, USER_RESOURCE
    from hostsync.store.database import Database
    from hostsync.store.frontdesk.sites import create_kiosk, create_site, set_site_groups
    from hostsync.store.tenants import create_key, create_tenant

    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    if database_kind(database_url) == "sqlite":
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    database = Database(database_url)
    database.migrate()
    with database.connect(write=True) as connection:
        tenant = create_tenant(connection, "Bench Front Desk")
        _, api_key = create_key(connection, tenant.id, "bench")
    names = Names()
    ids: list[str] = []
    for start in range(0, hosts, CHUNK):
        stop = min(hosts, start + CHUNK)
        documents = [
            normalize_resource(host_body(i, *names.next()), USER_RESOURCE)
            for i in range(start, stop)
        ]
        with database.directory(tenant.id) as directory:
            ids.extend(directory.import_users(documents))
        if stop % 100_000 == 0:
            print(f"seed: {stop} hosts", file=sys.stderr)
    seeded = time.perf_counter() - started
    with database.connect(write=True) as connection:
        site = create_site(connection, tenant.id, "Headquarters", timezone="Europe/Paris")
    if scope == "group":
        document = normalize_resource(
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "HQ"},
            GROUP_RESOURCE,
        )
        with database.directory(tenant.id) as directory:
            group_id = directory.create_group(document, ids[::2]).id
        with database.connect(write=True) as connection:
            set_site_groups(connection, tenant.id, site.id, [group_id])
    secrets = []
    with database.connect(write=True) as connection:
        for n in range(KIOSKS):
            secrets.append(create_kiosk(connection, tenant.id, site.id, f"Kiosk {n}")[1])
    if database.dialect == "postgresql":
        with database.engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(
                "VACUUM ANALYZE users, groups, memberships, host_cards, host_names"
            )
    database.dispose()
    manifest = {
        "database_url": database_url,
        "tenant_id": tenant.id,
        "api_key": api_key,
        "site_id": site.id,
        "kiosks": secrets,
        "hosts": hosts,
        "scope": scope,
        "seed_seconds": round(seeded, 1),
    }
    (workdir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    write_load_files(workdir, manifest)
    return manifest


def write_load_files(workdir: Path, manifest: dict[str, Any]) -> None:
    """kiosk.lua (the secrets) and queries.txt, which host_search.lua reads."""
    body = ", ".join(json.dumps(secret) for secret in manifest["kiosks"])
    (workdir / "kiosk.lua").write_text(f"return {{ {body} }}\n")
    (workdir / "queries.txt").write_text("".join(f"{q}\n" for q in queries(20_000)))


def _http(
    url: str, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - our own server on loopback
        url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return answer.status, json.loads(answer.read() or b"null")


def deactivation_check(url: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """A host created over SCIM is found; PATCHed inactive, the next search misses them."""
    key, kiosk = manifest["api_key"], manifest["kiosks"][0]
    scim = "/v1/usersync/SCIM"
    tag = f"{int(time.time() * 1000) % 10**9}"
    body = {
        "schemas": [USER_SCHEMA],
        "userName": f"check{tag}@contoso.example",
        "displayName": f"Zyxwvü Check{tag}",
        "active": "True",
    }
    status, created = _http(url, "POST", f"{scim}/Users", key, body)
    if status != 201:
        raise BenchError(f"creating the check host answered {status}")
    user_id = created["id"]
    if manifest.get("scope") == "group":  # the site offers its group's members only
        return {"scenario": "deactivation", "skipped": "the site is scoped to a group"}
    query = f"/v1/kiosk/hosts?q=zyxwvu+check{tag}"
    before = [host["id"] for host in _http(url, "GET", query, kiosk)[1]["hosts"]]
    patch = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    moment = time.perf_counter()
    status, _ = _http(url, "PATCH", f"{scim}/Users/{user_id}", key, patch)
    after = [host["id"] for host in _http(url, "GET", query, kiosk)[1]["hosts"]]
    elapsed = (time.perf_counter() - moment) * 1000
    result = {
        "scenario": "deactivation",
        "found_before": user_id in before,
        "patch_status": status,
        "found_after": user_id in after,
        "patch_then_search_ms": round(elapsed, 2),
    }
    if not result["found_before"] or result["found_after"]:
        raise BenchError(f"the deactivation was not reflected in the next search: {result}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: SQLite in --workdir")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--scope", choices=("all", "group"), default="all")
    parser.add_argument("--reuse", action="store_true", help="reuse the seeded data in workdir")
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    args = parser.parse_args(argv)
    try:
        wrk = ensure_wrk()
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    workdir: Path = args.workdir or Path(f"/tmp/hostsync-search-{args.hosts}-{args.scope}")  # noqa: S108
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if args.reuse and (workdir / "manifest.json").exists():
        manifest = json.loads((workdir / "manifest.json").read_text())
        write_load_files(workdir, manifest)
    else:
        manifest = seed(database_url, workdir, args.hosts, args.scope)
        print(json.dumps({"scenario": "seed", "seconds": manifest["seed_seconds"]}), flush=True)
    if args.seed_only:
        return 0
    warm_sqlite_file(manifest["database_url"])
    labels = {
        "hosts": manifest["hosts"],
        "scope": manifest["scope"],
        "database": database_kind(manifest["database_url"]),
        "connections": args.connections,
        "date": time.strftime("%Y-%m-%d"),
    }
    server = hostsync_server(
        manifest["database_url"], free_port(), 1, args.server_cpus, workdir / "server.log"
    )
    server.env["HOSTSYNC_KIOSK_SEARCH_LIMIT"] = "none"
    try:
        with server.running():
            print(json.dumps({**deactivation_check(server.url, manifest), **labels}), flush=True)
            figures: dict[str, Any] = {}
            for seconds in (args.warmup, args.duration):
                if seconds <= 0:
                    continue
                command = pinned(
                    args.load_cpus,
                    [
                        wrk,
                        "-t1",
                        f"-c{args.connections}",
                        f"-d{max(1, round(seconds))}s",
                        "--timeout",
                        "30s",
                        "-s",
                        str(LUA),
                        server.url,
                        "--",
                        str(workdir),
                    ],
                )
                figures = run_wrk(command)
            record = {
                "scenario": "host-search",
                "searches_per_s": figures["requests_per_s"],
                **{k: figures[k] for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "errors")},
                "requests": figures["requests"],
                **server.rss_mb(),
                **labels,
            }
            print(json.dumps(record), flush=True)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
