"""The admin console: sign-in, Host Synchronization (API keys), hosts, groups, activity.

Server-rendered pages for a tenant's administrators: every page but sign-in needs a session,
every query is scoped by the session's tenant, forms are read with a size cap before anything
else, and keys, sign-ins, sign-outs and prunes leave activity rows.
"""

from hostsync.web.admin.console import AdminConsole
from hostsync.web.admin.routes import admin_routes

__all__ = ["AdminConsole", "admin_routes"]
