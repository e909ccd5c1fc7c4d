"""What an arrival's notifications say, on each channel: rendering only, no I/O.

* E-mail: plain text and HTML (every value escaped), subject "Your visitor has arrived" for
  the host; for the site's fallback recipients, which host was asked for and why they were
  not notified.
* Microsoft Teams: a Workflows webhook body, one Adaptive Card (version 1.2) in a
  ``message``. Card text is Markdown to Teams: visitor-typed values are escaped.
* Slack: an incoming-webhook body, ``text`` (the notification's fallback) and ``blocks``.
  Slack's ``mrkdwn`` escapes ``&``, ``<`` and ``>``; values are escaped so that a visitor's
  name can neither link nor mention anyone.
* Generic webhook: a JSON event ``{"id", "type": "visit.checked_in", "created_at", "data"}``
  whose ``id`` is the delivery's id (the receiver's idempotency key); ``data.front_desk`` is
  true when the front desk, not the host, should meet the visitor (``data.reason``: why).

Times are shown in the site's time zone (an unknown zone falls back to UTC, named as such).
Messages never carry the visitor's e-mail address.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hostsync.frontdesk.ports import Arrival

EVENT_TYPE = "visit.checked_in"
CARD_VERSION = "1.2"
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class EmailContent:
    """An e-mail's subject and bodies (plain text and HTML)."""

    subject: str
    text: str
    html: str


def one_line(value: str) -> str:
    """A value on one line: control characters (newlines too) become single spaces."""
    return _CONTROL.sub(" ", value).strip()


def local_time(arrival: Arrival) -> str:
    """When the visitor arrived, in the site's zone: ``14:05, Tue 8 Dec 2026 (Europe/Paris)``."""
    try:
        zone: ZoneInfo | None = ZoneInfo(arrival.site_timezone)
        name = arrival.site_timezone
    except (ZoneInfoNotFoundError, ValueError):
        zone, name = None, "UTC"
    moment = arrival.checked_in_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    shown = moment.astimezone(zone or UTC)
    return f"{shown:%H:%M}, {shown:%a} {shown.day} {shown:%b %Y} ({name})"


def _visitor(arrival: Arrival) -> str:
    name = one_line(arrival.visitor_name)
    company = one_line(arrival.company or "")
    return f"{name} ({company})" if company else name


def _facts(arrival: Arrival) -> list[tuple[str, str]]:
    """The notification's facts, label and value, in their order on every channel."""
    facts = [("Visitor", one_line(arrival.visitor_name))]
    if arrival.company and one_line(arrival.company):
        facts.append(("Company", one_line(arrival.company)))
    facts.append(("Site", one_line(arrival.site_name)))
    facts.append(("Arrived", local_time(arrival)))
    if arrival.reason is not None or arrival.host_label is None:
        facts.append(("Asked for", one_line(arrival.host_label or "the front desk")))
    if arrival.reason is not None:
        facts.append(("Host not notified", one_line(arrival.reason)))
    return facts


def headline(arrival: Arrival) -> str:
    """The message's first line (and the e-mail's subject)."""
    if arrival.reason is None and arrival.host_label is not None:
        return f"Your visitor has arrived: {_visitor(arrival)}"
    return f"A visitor has arrived at {one_line(arrival.site_name)}: {_visitor(arrival)}"


def email(arrival: Arrival) -> EmailContent:
    """The e-mail to the host, or to a fallback recipient (``arrival.reason`` set)."""
    facts = _facts(arrival)
    width = max(len(label) for label, _ in facts)
    lines = [headline(arrival), ""]
    lines += [f"{label + ':':<{width + 1}} {value}" for label, value in facts]
    if arrival.reason is None and arrival.host_label is not None:
        lines += ["", "Please meet your visitor at the front desk."]
    else:
        lines += ["", "Please look after this visitor at the front desk."]
    text = "\n".join(lines) + "\n"
    rows = "".join(
        f'<tr><th scope="row" style="text-align:left;padding-right:1em">{html.escape(label)}'
        f"</th><td>{html.escape(value)}</td></tr>"
        for label, value in facts
    )
    body = (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f'<h1 style="font-size:1.2em">{html.escape(headline(arrival))}</h1>'
        f"<table>{rows}</table>"
        f"<p>{html.escape(lines[-1])}</p></body></html>"
    )
    return EmailContent(subject=headline(arrival), text=text, html=body)


def markdown_escaped(value: str) -> str:
    """A value that Markdown (Teams' card text) shows as typed: its syntax backslash-escaped."""
    return _MARKDOWN.sub(r"\\\1", one_line(value))


def teams_body(arrival: Arrival) -> dict[str, Any]:
    """A Microsoft Teams Workflows webhook body: a message with one Adaptive Card."""
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": [
            {
                "type": "TextBlock",
                "text": markdown_escaped(headline(arrival)),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [
                    {"title": label, "value": markdown_escaped(value)}
                    for label, value in _facts(arrival)
                ],
            },
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def slack_escaped(value: str) -> str:
    """A value for Slack ``mrkdwn``: ``&``, ``<`` and ``>`` escaped (no links, no mentions)."""
    return one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(arrival: Arrival) -> dict[str, Any]:
    """A Slack incoming-webhook body: ``text`` (the notification) and ``blocks``."""
    title = slack_escaped(headline(arrival))
    return {
        "text": title,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{label}*\n{slack_escaped(value)}"}
                    for label, value in _facts(arrival)
                ],
            },
        ],
    }


def webhook_event(arrival: Arrival, delivery_id: str, created_at: datetime) -> dict[str, Any]:
    """The generic webhook's JSON event; ``created_at`` is when the delivery was queued."""
    moment = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    checked_in = arrival.checked_in_at
    if checked_in.tzinfo is None:
        checked_in = checked_in.replace(tzinfo=UTC)
    host = None
    if arrival.host_id is not None or arrival.host_label is not None:
        host = {"id": arrival.host_id, "name": arrival.host_label}
    return {
        "id": delivery_id,
        "type": EVENT_TYPE,
        "created_at": _iso(moment),
        "data": {
            "visit_id": arrival.visit_id,
            "visitor": {"name": arrival.visitor_name, "company": arrival.company},
            "site": {
                "id": arrival.site_id,
                "name": arrival.site_name,
                "timezone": arrival.site_timezone,
            },
            "checked_in_at": _iso(checked_in),
            "host": host,
            "front_desk": arrival.reason is not None or host is None,
            "reason": arrival.reason,
        },
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
