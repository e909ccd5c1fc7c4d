"""Rendering: every channel's body says who, where and when, with typed values escaped."""

from __future__ import annotations

from datetime import datetime

from hostsync.frontdesk.delivery import messages
from hostsync.frontdesk.ports import Arrival

AT = datetime(2026, 12, 8, 13, 5)  # naive UTC


def arrival(**changes: object) -> Arrival:
    values: dict[str, object] = {
        "visit_id": "v1",
        "visitor_name": "Ana <b>Silva</b> & co",
        "company": "Fabrikam *Ltd*",
        "site_id": "s1",
        "site_name": "Paris HQ",
        "site_timezone": "Europe/Paris",
        "checked_in_at": AT,
        "host_id": "u1",
        "host_label": "José Núñez",
    }
    values.update(changes)
    return Arrival(**values)  # type: ignore[arg-type]


def test_local_time_is_in_the_site_zone_and_an_unknown_zone_says_utc() -> None:
    assert messages.local_time(arrival()) == "14:05, Tue 8 Dec 2026 (Europe/Paris)"
    assert messages.local_time(arrival(site_timezone="Mars/Olympus")).startswith("13:05")
    assert messages.local_time(arrival(site_timezone="Mars/Olympus")).endswith("(UTC)")


def test_host_email_names_visitor_company_site_and_time_and_escapes_html() -> None:
    content = messages.email(arrival())
    assert content.subject == "Your visitor has arrived: Ana <b>Silva</b> & co (Fabrikam *Ltd*)"
    assert "Ana <b>Silva</b> & co" in content.text
    assert "Paris HQ" in content.text and "14:05" in content.text
    assert "<b>Silva" not in content.html
    assert "Ana &lt;b&gt;Silva&lt;/b&gt; &amp; co" in content.html
    assert "Asked for" not in content.text


def test_fallback_email_says_who_was_asked_for_and_why() -> None:
    content = messages.email(arrival(reason="the host's account is inactive"))
    assert content.subject.startswith("A visitor has arrived at Paris HQ")
    assert "José Núñez" in content.text
    assert "the host&#x27;s account is inactive" in content.html
    front = messages.email(arrival(host_id=None, host_label=None))
    assert "the front desk" in front.text


def test_newlines_typed_by_a_visitor_cannot_add_header_lines() -> None:
    content = messages.email(arrival(visitor_name="Eve\r\nBcc: all@example.com"))
    assert "\n" not in content.subject and "\r" not in content.subject


def test_teams_body_is_a_workflows_message_with_one_adaptive_card() -> None:
    body = messages.teams_body(arrival())
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.2"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Company"] == r"Fabrikam \*Ltd\*"
    assert facts["Site"] == "Paris HQ"
    assert "Your visitor has arrived" in card["body"][0]["text"]


def test_slack_body_escapes_mentions_and_links() -> None:
    body = messages.slack_body(arrival(visitor_name="<!channel> <https://evil|x>"))
    assert "<!channel>" not in body["text"]
    assert "&lt;!channel&gt;" in body["text"]
    assert body["blocks"][0]["type"] == "section"
    texts = [f["text"] for f in body["blocks"][1]["fields"]]
    assert any("Paris HQ" in t for t in texts)


def test_webhook_event_shape() -> None:
    event = messages.webhook_event(arrival(), "d1", datetime(2026, 12, 8, 13, 5, 1))
    assert event["id"] == "d1" and event["type"] == "visit.checked_in"
    assert event["created_at"] == "2026-12-08T13:05:01.000Z"
    data = event["data"]
    assert data["checked_in_at"] == "2026-12-08T13:05:00.000Z"
    assert data["host"] == {"id": "u1", "name": "José Núñez"}
    assert data["front_desk"] is False
    assert data["site"]["timezone"] == "Europe/Paris"
    rerouted = messages.webhook_event(arrival(reason="inactive"), "d1", AT)["data"]
    assert rerouted["front_desk"] is True and rerouted["reason"] == "inactive"
