"""The e-mail sender: SMTP through ``smtplib``, verified TLS, one connection per batch.

The server is named by a URL (``HOSTSYNC_SMTP_URL``)::

    smtp://mail.example.com:25                 clear text (port 25 by default)
    smtp://mail.example.com:587?starttls=true  STARTTLS, required (never a clear fall-back)
    smtps://mail.example.com                   implicit TLS (port 465 by default)
    smtps://user:p%40ss@mail.example.com       with a login (user and password URL-encoded)

TLS verifies the certificate chain and the host name against the system's CAs, or against
a CA file's alone (``ca_file``, for a private CA and for tests). A login is sent only inside
TLS, or in clear to a loopback server. The password never appears in an error or a log line:
:func:`redacted` is the URL as shown.

An attempt's outcome per message: accepted → sent; a 5xx reply about the message or all of
its recipients → refused for good; anything else (connection refused, timeouts, 4xx, a
login refused) → tried again later. A connection that breaks mid-batch leaves the batch's
remaining messages to be retried. The ``Message-ID`` is derived from the delivery's id, so
the copies a retry may produce (the server took a message but its answer was lost) are one
message to the recipient's mail system.
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from hostsync.frontdesk.delivery.messages import EmailContent, one_line
from hostsync.frontdesk.ports import Outcome

DEFAULT_TIMEOUT = 10.0
_TRUE = {"1", "true", "yes", "on"}
_WIRE = compat32.clone(linesep="\r\n")  # SMTP's line ends (sendmail sends bytes as given)
_BODY_CHARSET = Charset("utf-8")
_BODY_CHARSET.body_encoding = QP  # lines of at most 76 characters, whatever the text
_ADDRESS = re.compile(r"[^\s@<>,;:\"]+@[^\s@<>,;:\"]+\.[^\s@<>,;:\"]+")


class SmtpUrlError(ValueError):
    """``HOSTSYNC_SMTP_URL`` cannot be used (the message shows it redacted)."""


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to send: ``tls`` is "none", "starttls" or "implicit"."""

    host: str
    port: int
    tls: str = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    @property
    def shown(self) -> str:
        """The server as logs and errors name it: no password."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        user = f"{self.username}:***@" if self.username else ""
        query = "?starttls=true" if self.tls == "starttls" else ""
        return f"{scheme}://{user}{self.host}:{self.port}{query}"


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")
        user = netloc[0].partition(":")[0]
        return parts._replace(netloc=f"{user}:***@{netloc[2]}").geturl()
    except ValueError:
        return "(an SMTP URL that cannot be read)"


def parse_smtp_url(url: str, *, ca_file: str | None = None) -> SmtpServer:
    """The server named by ``url``; :class:`SmtpUrlError` says what is wrong, redacted."""
    shown = redacted(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise SmtpUrlError(f"invalid SMTP URL {shown!r}: bad host or port") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise SmtpUrlError(f"invalid SMTP URL {shown!r}: use smtp:// or smtps://")
    if not parts.hostname:
        raise SmtpUrlError(f"invalid SMTP URL {shown!r}: no host")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["false"])[-1].lower() in _TRUE
    if parts.scheme == "smtps" and starttls:
        raise SmtpUrlError(f"invalid SMTP URL {shown!r}: smtps:// is TLS already")
    tls = "implicit" if parts.scheme == "smtps" else "starttls" if starttls else "none"
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username and tls == "none" and not is_loopback(parts.hostname):
        raise SmtpUrlError(
            f"refusing to send the SMTP password in clear to {parts.hostname}: "
            "use smtps:// or ?starttls=true"
        )
    return SmtpServer(
        host=parts.hostname,
        port=port or (465 if tls == "implicit" else 25),
        tls=tls,
        username=username,
        password=password,
        ca_file=ca_file,
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost`` or a loopback address)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def message_id(delivery_id: str, sender: str) -> str:
    """The ``Message-ID`` of a delivery's e-mail: the same on every attempt."""
    domain = sender.rpartition("@")[2].strip(" >") or "hostsync.invalid"
    return f"<{delivery_id}@{domain}>"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One e-mail ready for the wire: envelope sender and recipient, and the message bytes."""

    sender: str
    recipient: str
    data: bytes
    smtputf8: bool = False


def compose(
    content: EmailContent,
    *,
    sender: str,
    to: str,
    delivery_id: str,
    queued_at: datetime,
) -> Outgoing:
    """An e-mail of ``content`` (text and HTML alternatives) for one recipient.

    Built with the ``compat32`` MIME classes (several times cheaper than ``EmailMessage``'s
    header registry, Measured: bench/JOURNAL.md#outbox-compose); an address with a non-ASCII
    local part goes out with SMTPUTF8 (RFC 6531) and UTF-8 headers.
    """
    if not _ADDRESS.fullmatch(to):
        raise ValueError("not an e-mail address")
    envelope_sender = parseaddr(sender)[1] or sender
    moment = queued_at if queued_at.tzinfo else queued_at.replace(tzinfo=UTC)
    headers = {
        "From": sender,
        "To": to,
        "Date": format_datetime(moment),
        "Message-ID": message_id(delivery_id, sender),
        "Auto-Submitted": "auto-generated",
    }
    subject = one_line(content.subject)
    if not to.isascii():
        mail = EmailMessage(policy=policy.SMTPUTF8)
        mail["Subject"] = subject
        for name, value in headers.items():
            mail[name] = value
        mail.set_content(content.text)
        mail.add_alternative(content.html, subtype="html")
        return Outgoing(envelope_sender, to, mail.as_bytes(), smtputf8=True)
    multipart = MIMEMultipart("alternative")
    multipart["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    for name, value in headers.items():
        multipart[name] = value
    multipart.attach(MIMEText(content.text, "plain", _BODY_CHARSET))  # type: ignore[arg-type]
    multipart.attach(MIMEText(content.html, "html", _BODY_CHARSET))  # type: ignore[arg-type]
    return Outgoing(envelope_sender, to, multipart.as_bytes(policy=_WIRE))


class SmtpSender:
    """Sends messages through one server, a batch on one connection."""

    def __init__(self, server: SmtpServer, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.server = server
        self.timeout = timeout

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.server.ca_file)

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        client: smtplib.SMTP
        if server.tls == "implicit":
            client = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self.timeout, context=self._context()
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        try:
            if server.tls == "starttls":
                client.starttls(context=self._context())
            if server.username:
                client.login(server.username, server.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def send_batch(self, messages: Sequence[Outgoing]) -> list[Outcome]:
        """Send each message; one outcome per message, in order. Never raises."""
        if not messages:
            return []
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            error = f"cannot reach the SMTP server {self.server.shown}: {_line(exc)}"
            return [Outcome.transient(error)] * len(messages)
        outcomes: list[Outcome] = []
        try:
            for mail in messages:
                outcome = self._send(client, mail)
                outcomes.append(outcome)
                if not outcome.ok and not outcome.permanent and _broken(client):
                    break
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        missing = len(messages) - len(outcomes)
        if missing:
            error = f"the SMTP connection to {self.server.shown} broke"
            outcomes += [Outcome.transient(error)] * missing
        return outcomes

    def _send(self, client: smtplib.SMTP, mail: Outgoing) -> Outcome:
        try:
            options = ["SMTPUTF8", "BODY=8BITMIME"] if mail.smtputf8 else []
            client.ehlo_or_helo_if_needed()
            if mail.smtputf8 and not client.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("SMTPUTF8 not offered")
            refused = client.sendmail(mail.sender, [mail.recipient], mail.data, options)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            text = "; ".join(f"{code} {_line(reply)}" for code, reply in exc.recipients.values())
            if codes and all(code >= 500 for code in codes):
                return Outcome.refused(f"the SMTP server refused the recipient: {text}")
            return Outcome.transient(f"the SMTP server deferred the recipient: {text}")
        except smtplib.SMTPNotSupportedError:
            return Outcome.refused("the SMTP server cannot take a non-ASCII address (SMTPUTF8)")
        except smtplib.SMTPResponseException as exc:
            reply = f"{exc.smtp_code} {_line(exc.smtp_error)}"
            if exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPSenderRefused):
                return Outcome.refused(f"the SMTP server refused the message: {reply}")
            return Outcome.transient(f"the SMTP server did not take the message: {reply}")
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            return Outcome.transient(f"sending through {self.server.shown} failed: {_line(exc)}")
        if refused:
            return Outcome.refused("the SMTP server refused the recipient")
        return Outcome.success()


def _broken(client: smtplib.SMTP) -> bool:
    """Whether the connection is unusable (the rest of the batch waits for a retry)."""
    try:
        code, _ = client.noop()
    except (OSError, smtplib.SMTPException):
        return True
    return code != 250


def _line(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:300] or "no detail"
