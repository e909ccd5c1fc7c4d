"""Fixtures of the notification tests: SMTP servers, a webhook receiver, a CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from tests.frontdesk.servers import Receiver, SmtpServer


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback, running."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback answering 200."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def ca() -> trustme.CA:
    """A throw-away CA, trusted by nothing unless named."""
    return trustme.CA()
