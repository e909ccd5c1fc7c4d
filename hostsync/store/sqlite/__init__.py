"""The SQLite wing: the writer, units of work, the raw driver path, checkpoints, progress.

Only this package imports ``sqlite3``; the rest of the store sees SQLAlchemy and the wing's
public names. The wing imports nothing of the store around it (no circle with the Database).
"""
