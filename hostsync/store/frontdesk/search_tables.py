"""The host search index: ``host_cards`` and ``host_names`` (on the store's metadata).

A user has rows here only while it is a host a kiosk may offer: ``active``, not deleted, and
with a name to show (:func:`hostsync.frontdesk.names.host_name`). Both tables are kept by
every write of a user in the same transaction (store/frontdesk/search.py), so a host whom
Entra deactivates or deletes is gone from the next search.

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

from sqlalchemy import Column, Connection, String, Table, Text, event

from hostsync.store.tables import metadata

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
