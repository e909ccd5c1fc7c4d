"""Sends failure e-mails through SMTP (stdlib :mod:`smtplib`)."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage

from hostsync.engine.errors import EngineError
from hostsync.engine.jobs import SmtpConfig


def send_email(smtp: SmtpConfig, message: EmailMessage, *, timeout: float = 10.0) -> None:
    """Send one message; raise :class:`EngineError` when the server cannot take it."""
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username:
                password = os.environ.get(smtp.password_env or "", "")
                server.login(smtp.username, password)
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise EngineError(f"cannot send e-mail through {smtp.host}:{smtp.port}: {exc}") from None
