"""Persistence with SQLAlchemy 2: SQLite by default, PostgreSQL by URL.

The only package that imports sqlalchemy. It implements the protocol's Directory port; it
never renders wire documents or knows about HTTP.
"""
