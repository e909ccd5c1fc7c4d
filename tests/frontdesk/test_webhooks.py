"""The webhook sender against a real HTTP receiver: answers become outcomes, URLs stay secret."""

from __future__ import annotations

import pytest

from hostsync.frontdesk.delivery.webhooks import WebhookSender
from tests.frontdesk.servers import Receiver, free_port


@pytest.mark.parametrize(
    ("status", "ok", "permanent"),
    [
        (200, True, False),
        (202, True, False),
        (400, False, True),
        (404, False, True),
        (410, False, True),
        (408, False, False),
        (429, False, False),
        (500, False, False),
        (503, False, False),
        (302, False, False),
    ],
)
def test_answers_become_outcomes(
    receiver: Receiver, status: int, ok: bool, permanent: bool
) -> None:
    receiver.status = status
    outcome = WebhookSender().post(receiver.url("/hook/secret-path"), b"{}", {"X-A": "1"})
    assert (outcome.ok, outcome.permanent) == (ok, permanent)
    assert "secret-path" not in outcome.error
    (request,) = receiver.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-a"] == "1"


def test_timeouts_and_refused_connections_are_retried_without_the_url(receiver: Receiver) -> None:
    receiver.delay = 1.0
    slow = WebhookSender().post(receiver.url("/secret-path"), b"{}", timeout=0.2)
    assert not slow.ok and not slow.permanent and "in time" in slow.error
    down = WebhookSender().post(f"http://127.0.0.1:{free_port()}/secret-path", b"{}")
    assert not down.ok and not down.permanent and "secret-path" not in down.error


def test_an_unusable_address_is_refused_without_a_request(receiver: Receiver) -> None:
    outcome = WebhookSender().post("ftp://example.com/x", b"{}")
    assert outcome.permanent and "https://" in outcome.error
    assert receiver.requests == []
