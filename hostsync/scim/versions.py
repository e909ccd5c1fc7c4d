"""ETags (RFC 7644 §3.14): weak validators derived from a resource's version counter."""

from __future__ import annotations

from hostsync.scim.errors import PreconditionFailedError


def etag(version: int) -> str:
    """The ``meta.version`` and ``ETag`` value for a resource version."""
    return f'W/"{version}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _matches(header: str, version: int) -> bool:
    """RFC 9110 §13.1: ``*`` matches any current resource; weak comparison otherwise."""
    current = etag(version)
    for tag in _tags(header):
        if tag == "*":
            return True
        bare = tag[2:] if tag.startswith("W/") else tag
        if f"W/{bare}" == current:
            return True
    return False


def check_if_match(if_match: str | None, version: int) -> None:
    """Raise 412 when an ``If-Match`` header names none of the current version's tags."""
    if if_match is not None and not _matches(if_match, version):
        raise PreconditionFailedError(
            f"The resource has changed: its current version is {etag(version)}"
        )


def not_modified(if_none_match: str | None, version: int) -> bool:
    """True when ``If-None-Match`` names the current version, so a GET may answer 304."""
    return if_none_match is not None and _matches(if_none_match, version)
