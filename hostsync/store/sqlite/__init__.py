"""The SQLite wing: units of work, the raw driver path and the WAL checkpointer.

Only this package talks to ``sqlite3`` directly; the rest of the store sees SQLAlchemy.
"""
