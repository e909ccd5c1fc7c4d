"""What a job tells the planner besides its objects: the policy and its mapping checks."""

from __future__ import annotations

from hostsync.engine.jobs import Job, SettingsConfig
from hostsync.engine.mappings import ACTIVE_PATH
from hostsync.engine.planner import Policy
from hostsync.engine.ports import JobState


def has_active_mapping(job: Job) -> bool:
    """The job maps the users' ``active`` attribute (without it, leavers are never disabled)."""
    return any(m.name.lower() == ACTIVE_PATH for m in job.user_mappings)


def cycle_policy(settings: SettingsConfig, state: JobState) -> Policy:
    """A cycle's policy: the deletion threshold applies unless ``allow-deletes`` was run."""
    return Policy(
        skip_out_of_scope_deletions=settings.skip_out_of_scope_deletions,
        hard_deletes=settings.hard_deletes,
        deletion_threshold=settings.deletion_threshold,
        allow_deletes=state.allow_deletes,
    )


def on_demand_policy(settings: SettingsConfig) -> Policy:
    """Provision on demand's policy: one user's action is never held by the threshold."""
    return Policy(
        skip_out_of_scope_deletions=settings.skip_out_of_scope_deletions,
        hard_deletes=settings.hard_deletes,
    )
