"""host search index: host_cards and host_names, filled from the active users

Revision ID: 0810
Revises: 0800

The index is derived from the users' documents with the same Python code that keeps it
(store/frontdesk/search.py, ``card_values``), so the backfill reads users in batches in key
order and inserts their cards: one pass over the table, memory bounded by a batch. The names
are written by the cards' triggers (store/host_index.py), created first.
"""

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

from hostsync.store.host_index import NAME_TRIGGERS, card_values

revision = "0810"
down_revision = "0800"
branch_labels = None
depends_on = None

_BATCH = 5000
_FOLDED = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
_ID = sa.String(length=32).with_variant(sa.String(length=32, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "host_cards",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("sort_key", _FOLDED, nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name=op.f("pk_host_cards")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "host_names",
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("word", _FOLDED, nullable=False),
        sa.Column("sort_key", _FOLDED, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "word", "sort_key", "user_id", name=op.f("pk_host_names")
        ),
        sqlite_with_rowid=False,
    )
    connection = op.get_bind()
    for statement in NAME_TRIGGERS[connection.dialect.name]:
        op.execute(statement)
    backfill(connection)


def backfill(connection: sa.Connection) -> int:
    """Index every active, not deleted, named user; return how many were indexed."""
    cards_table = sa.table("host_cards", *(sa.column(name) for name in _CARD_COLUMNS))
    batch = sa.text(
        "SELECT pk, id, tenant_id, document FROM users"
        " WHERE pk > :after AND deleted_at IS NULL AND active ORDER BY pk LIMIT :size"
    )
    after, indexed = -1, 0
    while True:
        rows = connection.execute(batch, {"after": after, "size": _BATCH}).all()
        if not rows:
            return indexed
        cards: list[dict[str, Any]] = []
        for _, user_id, tenant_id, document in rows:
            if isinstance(document, str | bytes):
                document = orjson.loads(document)
            card = card_values(user_id, document) if isinstance(document, dict) else None
            if card is None:
                continue
            cards.append({"tenant_id": tenant_id, **card})
        if cards:
            connection.execute(sa.insert(cards_table), cards)  # the triggers add the names
        indexed += len(cards)
        after = rows[-1][0]


_CARD_COLUMNS = (
    "tenant_id",
    "user_id",
    "sort_key",
    "words",
    "display_name",
    "given_name",
    "family_name",
    "title",
    "department",
)


def downgrade() -> None:
    op.drop_table("host_names")
    op.drop_table("host_cards")  # and its triggers
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS host_cards_names()")
