"""Host search for the kiosk: :func:`search_hosts`, and what a kiosk's site searches.

The index (``host_cards``, ``host_names``) is kept with every user write by
:mod:`hostsync.store.host_index`; a host has rows only while ``active``, not deleted and
named. Every statement here is prebuilt (once per shape) and run on the driver on SQLite
(store/sqlite/raw.py), each scoped by the tenant.

**Searching.** A query is folded into words (:func:`hostsync.frontdesk.names.query_words`);
it searches once it has :data:`MIN_QUERY_CHARACTERS` letters or digits. Every query word must
begin some word of the host. The *driving* word (the only one, or of several the one that
begins the fewest names, counted with index-only reads up to :data:`PROBES`; the longest of
those that reach it) is a prefix, which is one range of ``host_names``' key
(tenant, word, sort_key, user id), read in key order; each name row carries its host's
words and labels, and is checked for the other query words (``instr`` on the row's
words), the privacy mode (``exact``: the folded query equals the host's folded full name, and
the range is the driving word alone) and the site's scope. Results are distinct hosts, at
most ``limit`` (≤ :data:`MAX_RESULTS`).

**Ranking.** A query of several words lists first the hosts whose folded full name begins
with it, as typed (``jose nu`` → *José Núñez*), by full name: one range of the key (the
first word's names, by full name), read before anything else. Then, and for a query of one
word, by the host's first word (in key order) that begins with the driving word, so an exact
word comes before the longer words it begins ("jo" before "joan" before "john"), then by the
host's folded full name, then by id: the order of the index, so the search stops as soon as
it has ``limit`` hosts. When the first tier found some, the second reads at most
:data:`FOLLOW_BUDGET` names.

**Bounded work.** The range is read in chunks (``limit`` + :data:`FIRST_CHUNK` names, then
:data:`NEXT_CHUNK`), each resumed after the last key read (a row-value comparison on the key,
so every chunk starts with an index seek). Without checks a chunk is one statement whose
``LIMIT`` bounds it; with checks, the chunk's last key is found first (``OFFSET`` on the
index), then the names between the two keys that pass the checks are read, so names that
fail are never copied out of the database. A search reads at most :data:`SCAN_BUDGET` names:
when the scope or the other words are selective and the prefix common, it returns the hosts
found within that many names (typing more letters narrows the range). A scope of groups
whose members number at most :data:`SCOPE_FIRST` is read the other way round, member by
member (the memberships' key, then each member's card), with no budget to run out: small
sites always get complete answers. Scopes:

* :class:`AllHosts`: every host of the tenant (a site with no group mapped);
* :class:`GroupHosts`: direct members of any of the groups (ids of the tenant's groups);
* :class:`AttributeHosts`: users whose attribute at a SCIM path equals a value (compiled by
  :class:`~hostsync.store.filters.FilterCompiler`, case-insensitive unless the attribute is
  ``caseExact``), e.g. ``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division``
  or ``addresses[type eq "work"].locality``, checked on the user's row for each name found.

What a result carries is what the privacy mode allows (:mod:`hostsync.frontdesk.privacy`):
never an e-mail address or phone number, which the index does not hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    any_,
    bindparam,
    exists,
    func,
    literal_column,
    select,
    tuple_,
)

from hostsync.caching import LeastRecent
from hostsync.frontdesk.names import HostName, query_words
from hostsync.frontdesk.privacy import HostDetail, PrivacyMode, label
from hostsync.frontdesk.privacy import detail as detail_of
from hostsync.scim.filters import And, Compare, CompareOp, Filter, ValuePath, parse_patch_path
from hostsync.scim.paths import AttrPath
from hostsync.scim.schema import USER_RESOURCE, ResourceType
from hostsync.store.extensions import tenant_registry
from hostsync.store.filters import FilterCompiler
from hostsync.store.frontdesk.tables import site_groups, sites
from hostsync.store.host_index import LABELS, Run, host_cards, host_names
from hostsync.store.sqlite.raw import prebuilt_runner
from hostsync.store.statements import targets
from hostsync.store.tables import groups, memberships, users

MIN_QUERY_CHARACTERS = 2
"""Letters or digits a query needs (spaces and punctuation do not count)."""
MAX_RESULTS = 10
"""Hosts a search returns at most."""
MAX_QUERY_WORDS = 6
"""Words a query may have; a longer query finds no one (no host is found by seven words)."""
FIRST_CHUNK = 2
"""Name rows the first chunk reads beyond ``limit``: enough for ``limit`` hosts when nothing
filters out a name and few hosts have two words that begin with the driving word."""
NEXT_CHUNK = 256
"""Name rows each further chunk reads."""
SCAN_BUDGET = 2048
"""Name rows a search reads at most (module doc, "Bounded work")."""
PROBES = (64, 1024)
"""Names counted per query word to choose a multi-word query's driving word: up to 64 each,
then, if every word begins that many, up to 1,024 (an index-only read each)."""
FOLLOW_BUDGET = 256
"""Names read at most after the hosts whose full name begins with a query of several words,
when there are some: the query was typed as the names are written, and those come first."""
SCOPE_FIRST = 2048
"""A group scope with at most this many members is read member by member."""


@dataclass(frozen=True, slots=True)
class AllHosts:
    """Every host of the tenant."""


@dataclass(frozen=True, slots=True)
class GroupHosts:
    """Direct members of any of these groups of the tenant."""

    group_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttributeHosts:
    """Users whose attribute at ``path`` equals ``value``.

    ``path`` is a SCIM attribute path, with an optional value filter:
    ``addresses[type eq "work"].locality``.
    """

    path: str
    value: str


HostScope = AllHosts | GroupHosts | AttributeHosts


@dataclass(frozen=True, slots=True)
class FoundHost:
    """One search result: the user's id and what the kiosk may show."""

    id: str
    label: str
    detail: str | None


def _param(name: str, **options: Any) -> Any:
    return bindparam(f"b_{name}", **options)


def _one_of(column: Any, name: str, pg: bool) -> Any:
    """``column`` is one of the list bound as ``b_<name>``.

    ANY on PostgreSQL; an expanding IN on SQLite, which store/sqlite/raw.py runs over
    ``json_each``.
    """
    if pg:
        return column == any_(bindparam(f"b_{name}", type_=ARRAY(String)))
    return column.in_(_param(name, expanding=True))


def _word_after(prefix: str) -> str:
    """The least string greater than every string that begins with ``prefix``."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            following = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return chr(0x10FFFF)


def _attribute_filter(scope: AttributeHosts) -> Filter:
    """``path eq value`` as a filter; a value path's sub-attribute joins its value filter."""
    path = parse_patch_path(scope.path)
    if path.value_filter is None:
        return Compare(path.attr, CompareOp.EQ, scope.value)
    if path.sub_attr is None:
        return Compare(AttrPath(path.attr.uri, path.attr.attr, "value"), CompareOp.EQ, scope.value)
    inner = Compare(AttrPath(None, path.sub_attr), CompareOp.EQ, scope.value)
    return ValuePath(path.attr, And(path.value_filter, inner))


class _Search:
    """The statements of one shape of search (dialect, other words, mode, scope)."""

    def __init__(
        self,
        dialect: str,
        others: int,
        exact: bool,
        scope: HostScope,
        user_type: ResourceType = USER_RESOURCE,
    ) -> None:
        pg = dialect == "postgresql"
        c, n = host_cards.c, host_names.c
        tenant = _param("tenant")
        instr = func.strpos if pg else func.instr

        def checks_on(row: Any) -> list[Any]:
            """The other words' and the mode's checks on a name row or a card."""
            found = [instr(row.words, _param(f"w{i}")) > 0 for i in range(1, others + 1)]
            return [*found, row.sort_key == _param("full")] if exact else found

        in_scope: Any = None  # the scope's check on a name row, if it has one
        self.scope_first = None
        if isinstance(scope, GroupHosts):
            m = memberships.c

            def in_scope(row: Any) -> Any:
                return exists(
                    select(literal_column("1"))
                    .select_from(memberships)
                    .where(
                        m.member_id == row.user_id,
                        m.tenant_id == tenant,
                        _one_of(m.group_id, "groups", pg),
                    )
                )

            g = groups.c
            in_tenant = g.tenant_id == tenant
            self.group_sizes = select(func.coalesce(func.sum(g.member_count), 0)).where(
                in_tenant if pg else func.likely(in_tenant),
                _one_of(g.id, "groups", pg),
                g.deleted_at.is_(None),
            )
            # The groups' members first (their key), then each member's card (its key):
            # an IN list, which SQLite reads first, never the tenant's cards.
            members = select(m.member_id).where(
                m.tenant_id == tenant, _one_of(m.group_id, "groups", pg)
            )
            self.scope_first = select(
                c.user_id, c.words, c.sort_key, *(c[name] for name in LABELS)
            ).where(
                c.tenant_id == tenant,
                c.user_id.in_(members),
                instr(c.words, _param("w0")) > 0,
                *checks_on(c),
            )
        elif isinstance(scope, AttributeHosts):
            u = users.c
            # Against the tenant's own user type: a declared extension's path compiles too.
            target = replace(targets(dialect)[0], resource_type=user_type)
            condition = FilterCompiler(target).compile(_attribute_filter(scope))

            def in_scope(row: Any) -> Any:
                return exists(
                    select(literal_column("1"))
                    .select_from(users)
                    .where(
                        u.id == row.user_id,
                        u.tenant_id == tenant,
                        u.deleted_at.is_(None),
                        condition,
                    )
                )

        def checks_for(row: Any) -> list[Any]:
            return checks_on(row) + ([in_scope(row)] if in_scope is not None else [])

        checks = checks_for(n)
        # One range of the key, in its order: no sort, no other table (but the scope's).
        in_range = (
            n.tenant_id == tenant,
            tuple_(n.word, n.sort_key, n.user_id)
            > tuple_(_param("after_word"), _param("after_sort"), _param("after_id")),
            n.word < _param("before"),
        )
        key = (n.word, n.sort_key, n.user_id)
        shown = (*key, *(n[name] for name in LABELS))
        # The hosts whose full name begins with the query: its first word's names, a range
        # of their full names (the key's next column), each host once.
        self.phrase = (
            select(*shown)
            .where(
                n.tenant_id == tenant,
                n.word == _param("first"),
                n.sort_key >= _param("phrase"),
                n.sort_key < _param("phrase_end"),
                *([in_scope(n)] if in_scope is not None else []),
            )
            .order_by(*key)
            .limit(_param("chunk"))
        )
        self.filtered = bool(checks)
        self.chunk: Any
        if not checks:  # every name found is a host to show
            self.chunk = select(*shown).where(*in_range).order_by(*key).limit(_param("chunk"))
            return
        # A chunk's last key first (the index alone, stepped over), then its names that pass
        # the checks: the names that fail are read where they lie, never copied or returned.
        self.chunk_end = (
            select(*key).where(*in_range).order_by(*key).limit(1).offset(_param("skip"))
        )
        if pg:
            # PostgreSQL: the chunk's names by the index with a LIMIT (its planner would not
            # take two row bounds as the index's), the checks on them outside.
            names = (
                select(*shown, n.words)
                .where(*in_range)
                .order_by(*key)
                .limit(_param("chunk"))
                .subquery("n")
            )
            r = names.c
            self.chunk = (
                select(*(r[column.name] for column in shown))
                .where(*checks_for(r))
                .order_by(r.word, r.sort_key, r.user_id)
            )
            return
        # SQLite: between two keys, with no other bound: the index then stops at the end key.
        self.chunk = (
            select(*shown)
            .where(
                in_range[0],
                in_range[1],
                tuple_(*key) <= tuple_(_param("end_word"), _param("end_sort"), _param("end_id")),
                *checks,
            )
            .order_by(*key)
        )


_SHAPES: LeastRecent[tuple[Any, ...], _Search] = LeastRecent(512)


def _search_for(
    connection: Connection, tenant_id: str, others: int, exact: bool, scope: HostScope
) -> _Search:
    """The statements of this shape, built once.

    An attribute scope's path and value are in its SQL; a tenant that declares extensions
    gets its own, per version of them.
    """
    dialect = connection.dialect.name
    if not isinstance(scope, AttributeHosts):  # group ids are bound per search
        key: tuple[Any, ...] = (dialect, others, exact, type(scope))
        found = _SHAPES.get(key)
        if found is None:
            found = _Search(dialect, others, exact, scope)
            _SHAPES.put(key, found)
        return found
    version, registry = tenant_registry(connection, tenant_id)
    key = (dialect, others, exact, scope, tenant_id if version else None, version)
    found = _SHAPES.get(key)
    if found is None:
        found = _Search(dialect, others, exact, scope, registry.users)
        _SHAPES.put(key, found)
    return found


def _found(row: Any, privacy: PrivacyMode, chosen: HostDetail | None) -> FoundHost:
    name = HostName(row.display_name, row.given_name, row.family_name, row.title, row.department)
    return FoundHost(row.user_id, label(name, privacy), detail_of(name, privacy, chosen))


def search_hosts(
    connection: Connection,
    tenant_id: str,
    query: str,
    *,
    scope: HostScope,
    privacy: PrivacyMode = PrivacyMode.FULL,
    detail: HostDetail | None = None,
    limit: int = MAX_RESULTS,
) -> list[FoundHost]:
    """The tenant's active hosts in ``scope`` whom ``query`` finds, ranked (module doc).

    ``privacy`` decides who is found (``exact``) and how each is labelled; ``detail`` is the
    site's chosen detail (title or department) where the mode shows one.
    """
    words = query_words(query)
    limit = max(0, min(limit, MAX_RESULTS))
    if (
        sum(len(word) for word in words) < MIN_QUERY_CHARACTERS
        or len(words) > MAX_QUERY_WORDS
        or not limit
        or (isinstance(scope, GroupHosts) and not scope.group_ids)
    ):
        return []
    exact = privacy is PrivacyMode.EXACT
    run = prebuilt_runner(connection)
    others = 0 if exact else len(words) - 1  # exact: the whole name is compared instead
    search = _search_for(connection, tenant_id, others, exact, scope)
    params: dict[str, Any] = {"b_tenant": tenant_id}
    phrase = " ".join(words)
    if exact:
        params["b_full"] = phrase
    if isinstance(scope, GroupHosts):
        params["b_groups"] = list(scope.group_ids)
        size = int(run(search.group_sizes, params).scalar() or 0)
        if size <= SCOPE_FIRST and search.scope_first is not None:
            return _member_by_member(run, search, params, words, exact, limit, privacy, detail)
    found: dict[str, Any] = {}
    budget = SCAN_BUDGET
    if others:  # first the hosts whose full name begins with the query, as typed
        start = {"b_first": words[0], "b_phrase": phrase, "b_phrase_end": _word_after(phrase)}
        rows = run(search.phrase, {**params, **start, "b_chunk": limit}).all()
        found.update((row.user_id, row) for row in rows)
        if len(found) == limit:
            return [_found(row, privacy, detail) for row in found.values()]
        if found:
            budget = FOLLOW_BUDGET
    driver = max(words, key=len) if not others else _rarest(run, tenant_id, words)
    rest = list(words)
    rest.remove(driver)
    params.update((f"b_w{i}", '"' + word) for i, word in enumerate(rest[:others], start=1))
    rows = _name_by_name(run, search, params, driver, exact, limit, found, budget)
    return [_found(row, privacy, detail) for row in rows]


class _Probe:
    """How many names a prefix has, counted up to ``b_probe`` (the key's index only)."""

    def __init__(self) -> None:
        n = host_names.c
        first = (
            select(literal_column("1"))
            .where(
                n.tenant_id == _param("tenant"),
                n.word >= _param("word"),
                n.word < _param("before"),
            )
            .limit(_param("probe"))
            .subquery("first")
        )
        self.count = select(func.count()).select_from(first)


_PROBE = _Probe()


def _rarest(run: Run, tenant_id: str, words: Sequence[str]) -> str:
    """The query word that begins the fewest names (module doc, "Searching").

    Counted up to each of :data:`PROBES` in turn; the longest among those that reach it.
    """
    candidates = list(dict.fromkeys(words))
    for probe in PROBES:
        counts: dict[str, int] = {}
        for word in candidates:
            params: dict[str, Any] = {"b_tenant": tenant_id, "b_word": word, "b_probe": probe}
            params["b_before"] = _word_after(word)
            counts[word] = int(run(_PROBE.count, params).scalar() or 0)
        fewest = min(counts.values())
        if fewest < probe:  # a word whose names were all counted: the rarest is known
            break
    # Ties: the longest, then the last (a family name, typed after the first name, is rarer).
    ranked = list(enumerate(candidates))
    return min(ranked, key=lambda item: (counts[item[1]], -len(item[1]), -item[0]))[1]


def _name_by_name(
    run: Run,
    search: _Search,
    params: dict[str, Any],
    driver: str,
    exact: bool,
    limit: int,
    found: dict[str, Any],
    budget: int,
) -> list[Any]:
    """``found``, then the next distinct hosts in key order from the driving word's range.

    Up to ``limit`` in all, reading at most ``budget`` names.
    """
    params["b_before"] = driver + "\x01" if exact else _word_after(driver)
    params["b_after_word"], params["b_after_sort"], params["b_after_id"] = driver, "", ""
    chunk, read = limit + FIRST_CHUNK, 0
    while True:
        params["b_chunk"] = chunk
        if search.filtered:  # the chunk's end, then the names in it that pass
            end = run(search.chunk_end, {**params, "b_skip": chunk - 1}).first()
            last = end if end is not None else (params["b_before"], "", "")
            params["b_end_word"], params["b_end_sort"], params["b_end_id"] = last
            rows = run(search.chunk, params).all()
            scanned = chunk if end is not None else 0
        else:
            rows = run(search.chunk, params).all()
            scanned = len(rows)
            last = rows[-1][:3] if rows else None
        for row in rows:
            if row.user_id not in found:
                found[row.user_id] = row
                if len(found) == limit:
                    return list(found.values())
        read += scanned
        if last is None or scanned < chunk or read >= budget:
            return list(found.values())
        params["b_after_word"], params["b_after_sort"], params["b_after_id"] = last
        chunk = min(NEXT_CHUNK, budget - read)


def _member_by_member(
    run: Run,
    search: _Search,
    params: dict[str, Any],
    words: Sequence[str],
    exact: bool,
    limit: int,
    privacy: PrivacyMode,
    chosen: HostDetail | None,
) -> list[FoundHost]:
    """A small group scope's members whom the query finds, ranked as by name (module doc)."""
    driver = words[0] if exact or len(words) == 1 else _rarest(run, params["b_tenant"], words)
    params["b_w0"] = '"' + driver
    params.update((f"b_w{i}", '"' + word) for i, word in enumerate(words[1:], start=1))
    phrase = " ".join(words)
    ranked = []
    for row in run(search.scope_first, params):
        host_words = orjson.loads(row.words)
        if exact:
            tier, matched = 0, driver
        elif len(words) > 1 and row.sort_key.startswith(phrase):
            tier, matched = 0, ""
        else:
            tier = 1
            matched = min(word for word in host_words if word.startswith(driver))
        ranked.append(((tier, matched, row.sort_key, row.user_id), row))
    best = sorted(ranked, key=lambda item: item[0])[:limit]
    return [_found(row, privacy, chosen) for _, row in best]


# -- a kiosk's site, as a search needs it -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class SiteSearch:
    """What a search at a site needs to know of it: who it offers, and how it shows them."""

    scope: HostScope
    privacy: PrivacyMode
    detail: HostDetail | None


class _SiteStatements:
    def __init__(self) -> None:
        s, g = sites.c, site_groups.c
        tenant, site = _param("tenant"), _param("site")
        self.site = select(s.privacy, s.detail, s.match_attribute, s.match_value).where(
            s.tenant_id == tenant, s.id == site, s.archived_at.is_(None)
        )
        self.groups = (
            select(g.group_id).where(g.site_id == site, g.tenant_id == tenant).order_by(g.group_id)
        )


_SITE_STATEMENTS = _SiteStatements()


def site_search(connection: Connection, tenant_id: str, site_id: str) -> SiteSearch | None:
    """How the tenant's site searches (None: no such live site), read with prebuilt statements.

    The hosts a site offers: by attribute when it has one (``match_attribute`` and
    ``match_value``), else the members of its groups, else every active host. An unknown
    privacy mode shows the least (``exact``); an unknown detail, none.
    """
    run = prebuilt_runner(connection)
    params = {"b_tenant": tenant_id, "b_site": site_id}
    row = run(_SITE_STATEMENTS.site, params).first()
    if row is None:
        return None
    scope: HostScope
    if row.match_attribute and row.match_value is not None:
        scope = AttributeHosts(row.match_attribute, row.match_value)
    else:
        group_ids = tuple(group_id for (group_id,) in run(_SITE_STATEMENTS.groups, params))
        scope = GroupHosts(group_ids) if group_ids else AllHosts()
    try:
        mode = PrivacyMode(row.privacy)
    except ValueError:
        mode = PrivacyMode.EXACT
    try:
        chosen = HostDetail(row.detail) if row.detail else None
    except ValueError:
        chosen = None
    return SiteSearch(scope, mode, chosen)


def attribute_condition(connection: Connection, tenant_id: str, path: str, value: str) -> Any:
    """A condition on ``users``: the user's attribute at ``path`` equals ``value``.

    Compiled against the tenant's own user type, so a declared extension's path works as in a
    search; raises the SCIM path and filter errors for a path the tenant cannot filter on.
    """
    _, registry = tenant_registry(connection, tenant_id)
    target = replace(targets(connection.dialect.name)[0], resource_type=registry.users)
    return FilterCompiler(target).compile(_attribute_filter(AttributeHosts(path, value)))
