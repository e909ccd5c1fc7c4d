"""SQL for the front desk (SQLAlchemy Core, functions over a Connection, tenant-scoped)."""
