"""The host search index: ``host_cards`` and ``host_names`` (on the store's metadata).

A user has rows here only while it is a host a kiosk may offer: ``active``, not deleted, and
with a name to show (:func:`hostsync.frontdesk.names.host_name`). Both tables are kept by
every write of a user in the same transaction (store/frontdesk/search.py), so a host whom
Entra deactivates or deletes is gone from the next search.

* ``host_cards``: one row per host, keyed by (tenant, user id): what a kiosk may show (the
  names, title, department; never an e-mail or phone number), the folded full name
  (``sort_key``: the order within a word, and the key of the ``exact`` privacy mode) and the
  folded words the host is found by, space-separated with a leading space (``words``: so
  ``instr(words, ' ' || w)`` tells whether some word begins with ``w``).
* ``host_names``: one row per (host, word), keyed by (tenant, word, sort_key, user id), so a
  prefix is one range of the key, read in the order search results are ranked in.

Both are clustered on their key on SQLite (WITHOUT ROWID): a range of names is one b-tree
walk and a card one probe. On PostgreSQL the folded columns compare byte-wise
(``COLLATE "C"``): a prefix is then a plain range of the primary key's index whatever the
database's collation, in the same order as SQLite's and Python's.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table, Text

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
    sqlite_with_rowid=False,
)
