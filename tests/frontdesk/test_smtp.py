"""The SMTP sender against real servers: clear, STARTTLS and SMTPS with a login; refusals."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest
import trustme

from hostsync.frontdesk.delivery.messages import EmailContent
from hostsync.frontdesk.delivery.smtp import (
    Outgoing,
    SmtpSender,
    SmtpUrlError,
    compose,
    parse_smtp_url,
    redacted,
)
from tests.frontdesk.servers import PASSWORD, SmtpServer, free_port

SENDER = "Front desk <frontdesk@contoso.example>"


def mail(delivery_id: str, to: str = "host@contoso.example") -> Outgoing:
    content = EmailContent("Your visitor has arrived", "Ana is here.\n", "<p>Ana is here.</p>")
    return compose(
        content, sender=SENDER, to=to, delivery_id=delivery_id, queued_at=datetime(2026, 1, 1)
    )


def test_urls_parse_with_defaults_and_never_show_the_password() -> None:
    server = parse_smtp_url(f"smtps://me:{quote(PASSWORD, safe='')}@mail.example")
    assert (server.host, server.port, server.tls) == ("mail.example", 465, "implicit")
    assert server.password == PASSWORD
    assert PASSWORD not in server.shown and PASSWORD not in repr(server)
    starttls = parse_smtp_url("smtp://mail.example:587?starttls=true")
    assert (starttls.port, starttls.tls, starttls.username) == (587, "starttls", None)
    assert parse_smtp_url("smtp://127.0.0.1").port == 25
    assert redacted("smtp://me:hunter2@mail.example:25") == "smtp://me:***@mail.example:25"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://mail.example", "smtp://"),
        ("smtp://", "no host"),
        ("smtp://mail.example:99999", "port"),
        ("smtps://mail.example?starttls=true", "TLS already"),
        ("smtp://me:hunter2@mail.example", "in clear"),
    ],
)
def test_bad_urls_are_refused_with_the_password_redacted(url: str, says: str) -> None:
    with pytest.raises(SmtpUrlError) as refused:
        parse_smtp_url(url)
    assert says in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_batch_goes_through_one_connection_with_ids_from_the_deliveries(
    smtp_server: SmtpServer,
) -> None:
    sender = SmtpSender(parse_smtp_url(smtp_server.url))
    outcomes = sender.send_batch([mail("d1"), mail("d2"), mail("d3")])
    assert [o.ok for o in outcomes] == [True, True, True]
    assert smtp_server.mailbox.ids() == [
        "<d1@contoso.example>",
        "<d2@contoso.example>",
        "<d3@contoso.example>",
    ]
    received = smtp_server.mailbox.messages[0]
    assert received.get_content_type() == "multipart/alternative"
    assert received["From"] == SENDER


def test_a_refused_recipient_is_final_and_a_deferred_one_is_retried(
    smtp_server: SmtpServer,
) -> None:
    def reply(message: EmailMessage) -> str:
        to = str(message["To"])
        return "550 no such user" if "gone" in to else "451 try later" if "busy" in to else "250 OK"

    smtp_server.mailbox.reply = reply
    sender = SmtpSender(parse_smtp_url(smtp_server.url))
    gone, busy, fine = sender.send_batch(
        [mail("a", "gone@x.example"), mail("b", "busy@x.example"), mail("c", "ok@x.example")]
    )
    assert not gone.ok and gone.permanent and "550" in gone.error
    assert not busy.ok and not busy.permanent and "451" in busy.error
    assert fine.ok


def test_a_server_that_is_down_makes_every_message_transient() -> None:
    sender = SmtpSender(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), timeout=2)
    outcomes = sender.send_batch([mail("a"), mail("b")])
    assert all(not o.ok and not o.permanent for o in outcomes)
    assert "cannot reach the SMTP server" in outcomes[0].error


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_tls_with_login_against_a_private_ca(tls: str, ca: trustme.CA, tmp_path: Path) -> None:
    server = SmtpServer(tls, ca).start()
    try:
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        scheme, query = ("smtps", "") if tls == "implicit" else ("smtp", "?starttls=true")
        url = f"{scheme}://frontdesk:{quote(PASSWORD, safe='')}@localhost:{server.port}{query}"
        (outcome,) = SmtpSender(parse_smtp_url(url, ca_file=str(ca_file))).send_batch([mail("t")])
        assert outcome.ok, outcome.error
        assert server.mailbox.logins == [("frontdesk", PASSWORD)]
        assert server.mailbox.ids() == ["<t@contoso.example>"]
        # Without the CA file the certificate is not trusted: nothing is sent, no login.
        (untrusted,) = SmtpSender(parse_smtp_url(url), timeout=5).send_batch([mail("u")])
        assert not untrusted.ok and not untrusted.permanent
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        assert PASSWORD not in untrusted.error
        assert server.mailbox.logins == [("frontdesk", PASSWORD)]
        # A wrong password: retried later (an administrator fixes the setting), not sent.
        wrong = url.replace(quote(PASSWORD, safe=""), "wrong")
        refusing = SmtpSender(parse_smtp_url(wrong, ca_file=str(ca_file)), timeout=1)
        (refused,) = refusing.send_batch([mail("w")])
        assert not refused.ok and "wrong" not in refused.error
        assert server.mailbox.ids() == ["<t@contoso.example>"]
    finally:
        server.stop()
