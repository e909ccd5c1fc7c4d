"""A visit, and the rules a check-in keeps before anything is stored.

A visitor gives a full name (required), a company and an e-mail address (optional), and
either picks a host or chooses *Front desk / I don't know*, which sends the arrival to the
site's fallback recipients. Nothing else is asked here: visitor types and their fields come
later (issue 22).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hostsync.frontdesk.addresses import is_address

FULL_NAME_LIMIT = 200
COMPANY_LIMIT = 200
EMAIL_LIMIT = 320


class VisitError(ValueError):
    """A check-in or check-out cannot be done; the message says why, for the visitor."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a visitor typed at the kiosk, checked."""

    full_name: str
    company: str | None
    email: str | None
    host_id: str | None
    front_desk: bool


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit as stored (personal fields are None once anonymised)."""

    id: str
    tenant_id: str
    site_id: str
    kiosk_id: str | None
    visitor_name: str | None
    visitor_company: str | None
    visitor_email: str | None
    host_id: str | None
    host_label: str | None
    front_desk: bool
    checked_in_at: datetime
    checked_in_by: str
    checked_out_at: datetime | None
    checked_out_by: str | None
    anonymised_at: datetime | None


def arrival(
    full_name: object,
    company: object = None,
    email: object = None,
    host_id: object = None,
    front_desk: object = False,
) -> Arrival:
    """Check what a visitor typed; :class:`VisitError` says what to correct."""
    name = _text(full_name, "Full name", FULL_NAME_LIMIT)
    if not name:
        raise VisitError("Full name is required")
    firm = _text(company, "Company", COMPANY_LIMIT) or None
    address = _text(email, "E-mail", EMAIL_LIMIT) or None
    if address is not None and not is_address(address):
        raise VisitError("E-mail is not an e-mail address")
    if not isinstance(front_desk, bool):
        raise VisitError("front_desk must be true or false")
    host = _text(host_id, "host_id", 64) or None
    if front_desk and host is not None:
        raise VisitError("Choose a host or the front desk, not both")
    if not front_desk and host is None:
        raise VisitError("Choose who you are visiting, or the front desk")
    return Arrival(name, firm, address, host, front_desk)


def _text(value: object, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise VisitError(f"{field} must be text")
    text = " ".join(value.split())
    if len(text) > limit:
        raise VisitError(f"{field} has at most {limit} characters")
    return text
