"""The admin console: sign-in, Host Synchronization (API keys), hosts, groups, activity."""

from hostsync.web.admin.routes import AdminConsole, admin_routes

__all__ = ["AdminConsole", "admin_routes"]
