"""Activity rows written outright: failed requests and administrators' actions.

A failure is written in a short transaction of its own (the failed request's was rolled
back); an administrator's action on the caller's connection, in its transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert

from hostsync.store.activity.recording import RequestContext, client_text
from hostsync.store.admin_tables import activity
from hostsync.store.clock import now
from hostsync.store.redaction import redact_keys

if TYPE_CHECKING:
    from hostsync.store.database import Database

log = logging.getLogger(__name__)


def record_failure(
    database: Database,
    tenant_id: str,
    context: RequestContext,
    status: int,
    detail: str | None,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> None:
    """Record a failed request in a transaction of its own; never raises."""
    try:
        with database.connect(write=True) as connection:
            append(
                connection,
                tenant_id,
                context,
                operation=_operation_of(context.method),
                status=status,
                detail=detail,
                resource_type=resource_type,
                resource_id=resource_id,
            )
    except Exception:  # the log must never turn a failure into a different one
        log.exception("could not record a failed request")


def _operation_of(method: str) -> str:
    return {
        "POST": "create",
        "PUT": "replace",
        "PATCH": "update",
        "DELETE": "delete",
        "GET": "read",
    }.get(method, method.lower())


def append(
    connection: Connection,
    tenant_id: str,
    context: RequestContext,
    *,
    operation: str,
    status: int,
    detail: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    resource_name: str | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> None:
    """Append one row on the given connection (inside the caller's transaction)."""
    connection.execute(
        insert(activity).values(
            tenant_id=tenant_id,
            at=now(),
            client=client_text(context.client),
            actor=redact_keys(context.actor)[:320],
            method=context.method[:10],
            path=redact_keys(context.path),
            operation=operation,
            resource_type=resource_type,
            resource_id=None if resource_id is None else redact_keys(resource_id)[:64],
            resource_name=None if resource_name is None else redact_keys(resource_name),
            status=status,
            changes=changes or [],
            detail=None if detail is None else redact_keys(detail)[:2000],
        )
    )


def audit(
    connection: Connection,
    tenant_id: str,
    context: RequestContext,
    operation: str,
    *,
    resource_type: str,
    resource_id: str | None = None,
    resource_name: str | None = None,
    status: int = 200,
    detail: str | None = None,
) -> None:
    """Record an administrator's action (or a failed sign-in) in the tenant's log.

    Operations: ``create``/``rotate``/``revoke`` of an ``ApiKey``; ``sign-in``,
    ``sign-in-failed``, ``sign-out``, ``create``, ``remove``, ``reset-password`` of an
    ``Admin``; the rows are written on the caller's connection, in its transaction.
    """
    append(
        connection,
        tenant_id,
        context,
        operation=operation[:16],
        status=status,
        detail=detail,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
    )
