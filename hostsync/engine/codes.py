"""Plain-language reasons for the codes the engine prints (one table, no I/O).

Skip reasons, error codes and quarantine reasons keep Entra's names
(docs/reference/entra-engine.md#error-codes) so an admin can search Microsoft's documentation for
them; every place that prints one for a person
(``sync plan``, ``sync logs``, ``sync status``, cycle reports, failure e-mails) prints it with
the reason from :data:`REASONS` beside it, via :func:`explain`. Machine output (``--json``)
keeps the bare code.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # scope (planner.Reason) and skip reasons
    "Entitled": "in scope: assigned to the application and enabled",
    "NotEffectivelyEntitled": "not assigned to the application, directly or through a group",
    "OutOfScope": "a scoping filter of the job excludes it",
    "AccountDisabled": "the account is disabled in the source",
    "SoftDeleted": "the account is deleted in the source (still restorable)",
    "HardDeleted": "the object is gone from the source",
    "Escrowed": "it failed earlier and waits for its next retry",
    "NotManaged": "it left scope earlier, so the engine no longer manages it",
    "HardDeletesOff": "gone from the source, but hard_deletes is off: it is left on the target",
    "SkipOutOfScopeDeletions": "out of scope, but skip_out_of_scope_deletions is on: left as is",
    "NoActiveMapping": "no mapping targets 'active', so it cannot be disabled",
    "RedundantExport": "the target already holds these values: nothing to send",
    "ImportSkipped": "no matching attribute has a value, so it can be neither matched nor created",
    "ManagerNotProvisioned": "its manager is not on the target yet; set at a later cycle",
    "AccidentalDeletionThreshold": "held back: more deletions than the job's deletion_threshold",
    # errors of one object
    "LookupFailed": "the target could not be searched for this object",
    "DuplicateTargetEntries": "several target objects match it; fix the duplicates",
    "ExpressionError": "a mapping expression failed for this object",
    "InvalidAnchor": "the linked target object is gone (404); it is matched again next cycle",
    "EntryConflict": "the target already holds an object with these unique values (409)",
    "TooManyRequests": "the target asked the engine to slow down (429)",
    "InternalServerError": "the target failed (5xx); retried",
    "MethodNotAllowed": "the target does not allow this request (405)",
    "UnprocessableEntity": "the target refused the values (4xx); see its detail",
    "BadRequest": "the target refused the request (400); see its detail",
    "NotImplemented": "the target does not implement this request (501)",
    "Timeout": "the target did not answer in time",
    "WebExceptionProtocolError": "the target could not be reached (connection or TLS failure)",
    "SystemForCrossDomainIdentityManagementServiceIncompatible": (
        "the target's answer is not valid SCIM"
    ),
    "SystemForCrossDomainIdentityManagementServiceIncompatibleFiltering": (
        "the target does not filter as SCIM requires (eq on userName / displayName)"
    ),
    "SyncError": "a SCIM request failed; the reason says how",
    "DryRunRejected": "a dry run refused to send a write (a bug in the engine)",
    # errors of the whole cycle
    "Unauthorized": "the Secret Token is wrong or revoked (401)",
    "InsufficientRights": "the Secret Token may not do this (403)",
    # quarantine reasons
    "EncounteredQuarantineException": (
        "a cycle failed as a whole (bad token, unreachable target or source)"
    ),
    "TooManyDeletes": "a cycle would delete more than deletion_threshold; see allow-deletes",
    "EncounteredEscrowProportionThreshold": "too many objects failed in one cycle",
}


def reason_for(code: str) -> str | None:
    """The plain-language reason for ``code``, or None for a code the table does not know."""
    return REASONS.get(code)


def explain(code: str) -> str:
    """``code — reason`` for a person to read; an unknown code is returned as it is."""
    reason = REASONS.get(code)
    return f"{code} — {reason}" if reason else code
