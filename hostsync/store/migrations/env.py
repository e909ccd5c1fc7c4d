"""Alembic environment: runs migrations on the connection hostsync hands over."""

from alembic import context

import hostsync.store.admin_tables
import hostsync.store.frontdesk.tables
import hostsync.store.host_index
import hostsync.store.sso.tables  # noqa: F401 - registers single sign-on's tables
from hostsync.store.migrate import include_object_for
from hostsync.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("hostsync runs its migrations itself: use `hostsync serve` or `migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_object=include_object_for(connection.dialect.name),
    on_version_apply=context.config.attributes.get("on_version_apply", ()),
)
with context.begin_transaction():
    context.run_migrations()
