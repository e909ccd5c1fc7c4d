"""Provisioning log entries and failure e-mails: rendering only, no I/O.

Entries follow Graph's ``provisioningObjectSummary`` (docs/reference/entra-engine.md#log-entry):
one per object per cycle, joined by ``cycleId``/``changeId``, with the steps Import → Scoping →
Matching → Export,
the modified properties old → new, and the error code, reason or skip reason. Values produced by
``Redact()`` show as ``[Redact]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from hostsync.engine.codes import explain
from hostsync.engine.expressions import Redacted, Value

_EXPORT_STEP = {
    "create": "EntryExportAdd",
    "update": "EntryExportUpdate",
    "disable": "EntryExportUpdateSoftDelete",
    "delete": "EntryExportDelete",
}


def shown(value: Value) -> Value:
    """A value as logs show it (``[Redact]`` for redacted values)."""
    if isinstance(value, Redacted):
        return "[Redact]"
    if isinstance(value, list):
        return [shown(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one object in one cycle."""

    kind: str
    source_id: str
    display: str
    action: str
    status: str
    target_id: str | None = None
    changes: Sequence[tuple[str, Value, Value]] = ()
    error_code: str | None = None
    reason: str | None = None
    skip_reason: str | None = None
    duration_ms: int = 0
    matched_by: str | None = None
    scoping: Mapping[str, str] = field(default_factory=dict)


def log_entry(outcome: Outcome, *, job: str, cycle_id: str, at: str) -> dict[str, Any]:
    """One provisioning log entry."""
    steps: list[dict[str, Any]] = [
        {
            "name": "EntryImport",
            "provisioningStepType": "import",
            "status": "success",
            "description": f"Retrieved {outcome.kind} '{outcome.display}' from the source",
        }
    ]
    if outcome.scoping:
        in_scope = outcome.scoping.get("ScopeEvaluationResult") == "Entitled"
        steps.append(
            {
                "name": "EntrySynchronizationScoping",
                "provisioningStepType": "scoping",
                "status": "success" if in_scope else "skipped",
                "details": dict(outcome.scoping),
            }
        )
    if outcome.matched_by:
        steps.append(
            {
                "name": "EntryImport",
                "provisioningStepType": "matching",
                "status": "success",
                "description": f"Matched target {outcome.target_id} by {outcome.matched_by}",
            }
        )
    export: dict[str, Any] = {
        "name": _EXPORT_STEP.get(outcome.action, "EntrySynchronizationSkip"),
        "provisioningStepType": "export",
        "status": outcome.status,
    }
    if outcome.skip_reason:
        export["details"] = {"SkipReason": outcome.skip_reason}
    if outcome.reason:
        export["description"] = outcome.reason
    steps.append(export)
    return {
        "id": str(uuid.uuid4()),
        "activityDateTime": at,
        "jobId": job,
        "cycleId": cycle_id,
        "changeId": str(uuid.uuid4()),
        "provisioningAction": outcome.action,
        "status": outcome.status,
        "sourceIdentity": {
            "id": outcome.source_id,
            "displayName": outcome.display,
            "identityType": outcome.kind,
        },
        "targetIdentity": {"id": outcome.target_id, "identityType": outcome.kind},
        "modifiedProperties": [
            {"displayName": path, "oldValue": shown(old), "newValue": shown(new)}
            for path, old, new in outcome.changes
        ],
        "provisioningSteps": steps,
        "errorCode": outcome.error_code,
        "reason": outcome.reason,
        "skipReason": outcome.skip_reason,
        "durationInMilliseconds": outcome.duration_ms,
    }


def render_entry(entry: Mapping[str, Any]) -> str:
    """One entry as lines an admin can read; codes carry their plain-language reason."""
    source = entry.get("sourceIdentity") or {}
    text = (
        f"{entry.get('activityDateTime', '')} {entry.get('provisioningAction', '')} "
        f"{source.get('identityType', '')} {source.get('displayName', '')}: "
        f"{entry.get('status', '')}"
    )
    for change in entry.get("modifiedProperties") or []:
        text += f"\n    {change['displayName']}: {change['oldValue']!r} → {change['newValue']!r}"
    for key in ("errorCode", "reason", "skipReason"):
        if entry.get(key):
            value = entry[key] if key == "reason" else explain(str(entry[key]))
            text += f"\n    {key}: {value}"
    return text


def failure_email(
    *,
    job: str,
    sender: str,
    recipient: str,
    reason: str,
    summary: Mapping[str, Any],
    entries: Sequence[Mapping[str, Any]],
    log_path: str,
) -> EmailMessage:
    """The notification sent when a cycle fails, stops at the threshold, or is quarantined.

    It names the cycle and lists the entries that caused it, so the admin can find them in the
    log (docs/reference/entra-engine.md#failure-email).
    """
    message = EmailMessage()
    message["Subject"] = f"hostsync: provisioning job '{job}': {reason}"
    message["From"] = sender
    message["To"] = recipient
    lines = [
        f"Provisioning job '{job}': {reason}.",
        "",
        f"Cycle: {summary.get('cycleId')} ({summary.get('type')})",
        f"State: {summary.get('state')}",
        f"Counts: {summary.get('counts')}",
    ]
    if summary.get("error"):
        lines.append(f"Error: {summary['error']}")
    if entries:
        lines += ["", f"Entries ({len(entries)} shown; the log is {log_path}):"]
        lines += [render_entry(entry) for entry in entries[:50]]
    lines += ["", f"Full log: {log_path} (filter by cycleId {summary.get('cycleId')})."]
    message.set_content("\n".join(lines))
    return message
