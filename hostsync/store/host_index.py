"""The host search index: ``host_cards`` and ``host_names``, kept with every user write.

The kiosk's search (issue 20) reads it: store/frontdesk/search.py.

A user has rows here only while it is a host a kiosk may offer: ``active``, not deleted, and
with a name to show (:func:`hostsync.frontdesk.names.host_name`). Both tables are kept by
every write of a user in the same transaction, so a host whom Entra deactivates or deletes
is gone from the next search: :class:`~hostsync.store.directory.SqlDirectory` calls
:func:`index_new_hosts` (create, import), :func:`reindex_host` (replace: PUT, PATCH, an
``active`` flip) and :func:`unindex_host` (soft delete), and the console's purge calls
:func:`unindex_host`, each on the unit of work's connection, so the index commits or rolls
back with the write. Each writes one statement, on ``host_cards`` alone, whose triggers keep
``host_names``: an insert of the card, an upsert that writes only when something changed
(nothing when the names, title and department are the same, as in most of Entra's
PATCHes), or a delete. A replace of a user known inactive before and after (the directory
read it in this unit) writes nothing. The module sits beside the directory, below the
database, so that the store's front-desk package, which may use the database, stays above.

* ``host_cards``: one row per host, keyed by (tenant, user id): what a kiosk may show (the
  names, title, department; never an e-mail or phone number), the folded full name
  (``sort_key``: the order within a word, and the key of the ``exact`` privacy mode) and the
  folded words the host is found by, as a JSON array (``words``: a word never holds a quote,
  so ``instr(words, '"' || w)`` tells whether some word begins with ``w``).
* ``host_names``: one row per (host, word), keyed by (tenant, word, sort_key, user id), so a
  prefix is one range of the key, read in the order search results are ranked in; each row
  carries a copy of its card's words and labels, so a search reads nothing else. Triggers on
  ``host_cards`` keep it (:data:`NAME_TRIGGERS`): a card's insert adds its words' rows, its
  delete removes them, its update replaces them, in the statement that changes the card.
  Keeping the index is then one statement per write of a user, the rest run by the
  database, which costs the SCIM write path less than the statements would from Python.

Both are clustered on their key on SQLite (WITHOUT ROWID): a range of names is one b-tree
walk and a card one probe. On PostgreSQL the folded columns compare byte-wise
(``COLLATE "C"``): a prefix is then a plain range of the primary key's index whatever the
database's collation, in the same order as SQLite's and Python's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    String,
    Table,
    Text,
    bindparam,
    delete,
    event,
    insert,
    or_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hostsync.frontdesk.names import fold, host_name, words_of
from hostsync.scim.resources import Document
from hostsync.store.tables import metadata

Run = Callable[[Any, Any], Any]
"""Runs a prebuilt statement on a unit of work's connection (store/sqlite/raw.py)."""
LABELS = ("display_name", "given_name", "family_name", "title", "department")
"""The columns of what a kiosk may show of a host."""
_IMPORT_CHUNK = 2000

Folded = Text().with_variant(Text(collation="C"), "postgresql")

host_cards = Table(
    "host_cards",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("sort_key", Folded, nullable=False),
    Column("words", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("department", Text, nullable=False),
    sqlite_with_rowid=False,
)

host_names = Table(
    "host_names",
    metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("word", Folded, primary_key=True),
    Column("sort_key", Folded, primary_key=True),
    Column(
        "user_id",
        String(32).with_variant(String(32, collation="C"), "postgresql"),
        primary_key=True,
    ),
    # The card's words and what a kiosk may show, copied, so that a search reads this table
    # alone: a range of rows side by side, not a card probe per name.
    # Measured: bench/JOURNAL.md#host-names-index
    Column("words", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("department", Text, nullable=False),
    sqlite_with_rowid=False,
)

_SQLITE_NAMES_OF = """
    INSERT INTO host_names (tenant_id, word, sort_key, user_id,
                            words, display_name, given_name, family_name, title, department)
    SELECT NEW.tenant_id, value, NEW.sort_key, NEW.user_id, NEW.words, NEW.display_name,
           NEW.given_name, NEW.family_name, NEW.title, NEW.department
    FROM json_each(NEW.words);"""
_SQLITE_NAMES_GONE = """
    DELETE FROM host_names WHERE tenant_id = OLD.tenant_id
        AND word IN (SELECT value FROM json_each(OLD.words))
        AND sort_key = OLD.sort_key AND user_id = OLD.user_id;"""

NAME_TRIGGERS = {
    "sqlite": (
        f"CREATE TRIGGER host_cards_added AFTER INSERT ON host_cards BEGIN{_SQLITE_NAMES_OF}\nEND",
        f"CREATE TRIGGER host_cards_removed AFTER DELETE ON host_cards BEGIN{_SQLITE_NAMES_GONE}\n"
        "END",
        f"CREATE TRIGGER host_cards_changed AFTER UPDATE ON host_cards BEGIN{_SQLITE_NAMES_GONE}"
        f"{_SQLITE_NAMES_OF}\nEND",
    ),
    "postgresql": (
        """CREATE OR REPLACE FUNCTION host_cards_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM host_names WHERE tenant_id = OLD.tenant_id
            AND word IN (SELECT jsonb_array_elements_text(OLD.words::jsonb))
            AND sort_key = OLD.sort_key AND user_id = OLD.user_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO host_names (tenant_id, word, sort_key, user_id,
                                words, display_name, given_name, family_name, title, department)
        SELECT NEW.tenant_id, word, NEW.sort_key, NEW.user_id, NEW.words, NEW.display_name,
               NEW.given_name, NEW.family_name, NEW.title, NEW.department
        FROM jsonb_array_elements_text(NEW.words::jsonb) AS word;
    END IF;
    RETURN NULL;
END $$""",
        "CREATE TRIGGER host_cards_changed AFTER INSERT OR DELETE OR UPDATE ON host_cards"
        " FOR EACH ROW EXECUTE FUNCTION host_cards_names()",
    ),
}
"""The triggers that keep ``host_names`` from ``host_cards``, per dialect (module doc); the
migration creates them, and so does ``metadata.create_all``."""


def _create_triggers(target: object, connection: Connection, **_: object) -> None:
    for statement in NAME_TRIGGERS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


event.listen(metadata, "after_create", _create_triggers)


def _param(name: str, **options: Any) -> Any:
    return bindparam(f"b_{name}", **options)


def card_values(user_id: str, document: Document) -> dict[str, Any] | None:
    """The ``host_cards`` row of a host (without the tenant), or None when it has no name."""
    name = host_name(document)
    words = words_of(document) if name is not None else ()
    if name is None or not words:
        return None
    return {
        "user_id": user_id,
        "sort_key": fold(name.display),
        "words": orjson.dumps(words).decode(),
        "display_name": name.display,
        "given_name": name.given,
        "family_name": name.family,
        "title": name.title,
        "department": name.department,
    }


_CARD = ("sort_key", "words", *LABELS)


class _Upkeep:
    """The statements that keep the index, for one dialect (built once).

    Only ``host_cards`` is written: its triggers keep ``host_names`` (above).
    """

    def __init__(self, pg: bool) -> None:
        c = host_cards.c
        self.insert_cards = insert(host_cards)
        upsert = (pg_insert if pg else sqlite_insert)(host_cards)
        # Written only when something changed: most PATCHes leave the names as they were.
        self.put_card = upsert.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"],
            set_={name: upsert.excluded[name] for name in _CARD},
            where=or_(*(c[name] != upsert.excluded[name] for name in _CARD)),
        )
        self.delete_card = delete(host_cards).where(
            c.tenant_id == _param("tenant"), c.user_id == _param("id")
        )


@cache
def _upkeep(dialect: str) -> _Upkeep:
    return _Upkeep(dialect == "postgresql")


def index_new_hosts(
    run: Run, dialect: str, tenant_id: str, created: Sequence[tuple[str, Document, bool]]
) -> None:
    """Index new users, given as (id, canonical document, active): the active named ones."""
    cards = []
    for user_id, document, active in created:
        card = card_values(user_id, document) if active else None
        if card is not None:
            card["tenant_id"] = tenant_id
            cards.append(card)
    if not cards:
        return
    insert_cards = _upkeep(dialect).insert_cards
    if len(cards) == 1:
        run(insert_cards, cards[0])
        return
    for start in range(0, len(cards), _IMPORT_CHUNK):
        run(insert_cards, cards[start : start + _IMPORT_CHUNK])


def unindex_host(run: Run, dialect: str, tenant_id: str, user_id: str) -> None:
    """Take a user out of the index (deleted, purged): its card, and so its names."""
    run(_upkeep(dialect).delete_card, {"b_tenant": tenant_id, "b_id": user_id})


def reindex_host(
    run: Run,
    dialect: str,
    tenant_id: str,
    user_id: str,
    document: Document,
    *,
    active: bool,
    was_active: bool | None = None,
) -> None:
    """Bring a replaced user's rows in line with its new document (module doc).

    ``was_active``: whether the user was active before, when the caller knows it (None when
    not); a user inactive before has no rows, so none is deleted.
    """
    card = card_values(user_id, document) if active else None
    if card is None:
        if was_active is not False:  # it may have rows: none stay
            unindex_host(run, dialect, tenant_id, user_id)
        return
    card["tenant_id"] = tenant_id
    run(_upkeep(dialect).put_card, card)
