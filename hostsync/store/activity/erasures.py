"""The activity rows of the front desk's retention runs and visitor erasures.

A row names who acted and how many visits changed, never the visitor's name or address: an
erasure says it matched by e-mail address, or names the one visit (its id is not personal
data) of a visitor who gave none. The rows are written by the :data:`Recorder` callbacks that
store/frontdesk/retention.py calls inside the transaction of a run's last batch.
"""

from __future__ import annotations

from sqlalchemy import Connection

from hostsync.store.activity.recording import RequestContext
from hostsync.store.activity.records import audit
from hostsync.store.frontdesk.retention import ErasureTarget, Recorder, retention_days_of


def retention_recorder(context: RequestContext) -> Recorder:
    """The row of a retention run in one tenant: how many visits, after how many days."""

    def record(connection: Connection, tenant_id: str, count: int) -> None:
        days = retention_days_of(connection, tenant_id)
        audit(
            connection,
            tenant_id,
            context,
            "anonymise",
            resource_type="Visit",
            detail=f"{count} visit(s) older than {days} days anonymised",
        )

    return record


def erasure_recorder(context: RequestContext, target: ErasureTarget) -> Recorder:
    """The row of an erasure: how the visitor was found and how many visits changed."""
    how = (
        "matched by e-mail address"
        if target.email is not None
        else "one visit without an e-mail address"
    )

    def record(connection: Connection, tenant_id: str, count: int) -> None:
        audit(
            connection,
            tenant_id,
            context,
            "erase",
            resource_type="Visitor",
            resource_id=target.visit_id,
            detail=f"visitor erased ({how}): {count} visit(s) anonymised",
        )

    return record


def retention_setting_recorded(
    connection: Connection, tenant_id: str, context: RequestContext, days: int, previous: int
) -> None:
    """The row of a change of the tenant's retention period."""
    audit(
        connection,
        tenant_id,
        context,
        "update",
        resource_type="Retention",
        detail=f"visits are anonymised after {days} days (was {previous})",
    )
