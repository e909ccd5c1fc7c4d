"""Failure e-mail transport: verified TLS (STARTTLS and implicit), ``ca_file``, no clear login.

Real SMTP servers (aiosmtpd) on loopback, with a throw-away CA and server certificate made by
``trustme`` for each test: that CA is in no system store, so a client that verifies refuses it
unless ``ca_file`` names it.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from hostsync.engine.errors import EngineError, JobFileError
from hostsync.engine.jobs import SmtpConfig, is_loopback, load_job, parse_job
from hostsync.engine.notify import send_email
from tests.engine.test_threshold_email import Inbox

PASSWORD = "correct horse battery staple"  # the SMTP account's, read from SMTP_PASSWORD

HEAD = (
    'scope = "assigned"\n[target]\ntenant_url = "http://x/scim"\nsecret_token = "t"\n'
    '[source]\ntype = "csv"\npath = "d.csv"\n'
)


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def message() -> EmailMessage:
    """A small failure e-mail."""
    mail = EmailMessage()
    mail["Subject"] = "hostsync: provisioning job 'job': the cycle failed"
    mail["From"] = "hostsync@localhost"
    mail["To"] = "ops@contoso.com"
    mail.set_content("Provisioning job 'job': the cycle failed.")
    return mail


class Logins:
    """An aiosmtpd authenticator that accepts :data:`PASSWORD` and records each login."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        self.seen.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password.decode() == PASSWORD)


class Server:
    """A running aiosmtpd server: its port, the messages it took and the logins it saw."""

    def __init__(self, port: int, inbox: Inbox, logins: Logins) -> None:
        self.port, self.inbox, self.logins = port, inbox, logins


@pytest.fixture
def ca() -> trustme.CA:
    """A throw-away certificate authority, trusted by nothing unless named."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    """The CA's certificate as a PEM file beside the job."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def start_server(ca: trustme.CA) -> Iterator[Callable[..., Server]]:
    """Start an SMTP server: ``tls`` "starttls" (required), "implicit" or "none"."""
    controllers: list[Controller] = []

    def start(tls: str, *, names: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Server:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*names).configure_cert(context)
        inbox, logins, port = Inbox(), Logins(), free_port()
        options: dict[str, Any] = {"authenticator": logins, "auth_require_tls": tls != "none"}
        if tls == "starttls":
            options |= {"tls_context": context, "require_starttls": True}
        elif tls == "implicit":
            options |= {"ssl_context": context}
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return Server(port, inbox, logins)

    try:
        yield start
    finally:
        for controller in controllers:
            controller.stop()


def smtp_config(tmp_path: Path, extra: str) -> SmtpConfig:
    """``[settings.smtp]`` loaded through a job file in ``tmp_path`` (ca_file resolved)."""
    path = tmp_path / "job.toml"
    path.write_text(HEAD + "[settings.smtp]\n" + extra)
    return load_job(path).settings.smtp


def test_legacy_starttls_refuses_a_certificate_from_an_untrusted_ca(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    """``starttls = true`` verifies the certificate: a CA no store trusts is refused.

    The older key, unchanged in the job file, used to upgrade with no context, which accepts
    any certificate at all.
    """
    server = start_server("starttls")
    smtp = smtp_config(tmp_path, f'host = "127.0.0.1"\nport = {server.port}\nstarttls = true\n')
    with pytest.raises(EngineError, match=r"CERTIFICATE_VERIFY_FAILED"):
        send_email(smtp, message())
    assert server.inbox.messages == []


def test_starttls_with_ca_file_verifies_the_server_and_logs_in_inside_tls(
    tmp_path: Path,
    ca_file: Path,
    start_server: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``ca_file`` naming the server's CA, STARTTLS verifies, then the login goes inside."""
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    server = start_server("starttls")
    smtp = smtp_config(
        tmp_path,
        f'port = {server.port}\ntls = "starttls"\nca_file = "ca.pem"\n'
        'username = "hostsync"\npassword_env = "SMTP_PASSWORD"\n',
    )
    assert smtp.ca_file == str(ca_file)
    send_email(smtp, message())
    assert server.logins.seen == [("hostsync", PASSWORD)]
    [mail] = server.inbox.messages
    assert mail["To"] == "ops@contoso.com"


def test_implicit_tls_verifies_against_ca_file_only(
    tmp_path: Path, ca_file: Path, start_server: Callable[..., Server]
) -> None:
    """``tls = "implicit"`` (SMTP over TLS from the first byte) verifies like STARTTLS does."""
    server = start_server("implicit")
    untrusted = smtp_config(tmp_path, f'port = {server.port}\ntls = "implicit"\n')
    with pytest.raises(EngineError, match=r"CERTIFICATE_VERIFY_FAILED"):
        send_email(untrusted, message())
    assert server.inbox.messages == []
    trusted = smtp_config(tmp_path, f'port = {server.port}\ntls = "implicit"\nca_file = "ca.pem"\n')
    send_email(trusted, message())
    assert len(server.inbox.messages) == 1


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_tls_refuses_a_certificate_issued_to_another_host(
    tls: str, tmp_path: Path, ca_file: Path, start_server: Callable[..., Server]
) -> None:
    """A certificate from the trusted CA but for another name is refused (host name checked)."""
    server = start_server(tls, names=("mail.contoso.test",))
    smtp = smtp_config(tmp_path, f'port = {server.port}\ntls = "{tls}"\nca_file = "ca.pem"\n')
    with pytest.raises(EngineError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
        send_email(smtp, message())
    assert server.inbox.messages == []


def test_starttls_the_server_does_not_offer_is_an_error_not_clear_text(
    tmp_path: Path, start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that offers no STARTTLS gets neither the message nor the login in clear."""
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    server = start_server("none")
    smtp = smtp_config(
        tmp_path,
        f'port = {server.port}\ntls = "starttls"\n'
        'username = "hostsync"\npassword_env = "SMTP_PASSWORD"\n',
    )
    with pytest.raises(EngineError, match=r"STARTTLS"):
        send_email(smtp, message())
    assert (server.inbox.messages, server.logins.seen) == ([], [])


def test_login_without_tls_to_a_remote_server_is_refused_when_the_job_loads() -> None:
    """A job whose login would send the password in clear across the network does not load."""
    text = HEAD + (
        '[settings.smtp]\nhost = "smtp.contoso.com"\nport = 587\n'
        'username = "hostsync"\npassword_env = "SMTP_PASSWORD"\n'
    )
    with pytest.raises(
        JobFileError,
        match=r"^job.toml: settings.smtp.username: a login without TLS would send the password "
        r"in clear to smtp.contoso.com; set tls = \"starttls\" or \"implicit\"",
    ):
        parse_job(text, Path("/jobs/job.toml"))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"])
def test_login_without_tls_to_a_loopback_server_is_allowed(host: str) -> None:
    """A relay on this machine may take a plain login: the password never leaves the host."""
    text = HEAD + (
        f'[settings.smtp]\nhost = "{host}"\nusername = "hostsync"\npassword_env = "SMTP_PASSWORD"\n'
    )
    smtp = parse_job(text, Path("/jobs/job.toml")).settings.smtp
    assert (smtp.mode, is_loopback(smtp.host)) == ("none", True)


@pytest.mark.parametrize("host", ["10.0.0.5", "smtp.contoso.com", "localhost.contoso.com", "::2"])
def test_other_hosts_are_not_loopback(host: str) -> None:
    """Only localhost, 127.0.0.0/8 and ::1 count as loopback; no name is resolved."""
    assert not is_loopback(host)


def test_send_email_refuses_a_clear_login_even_when_built_in_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A configuration that skipped the job-file check still never sends the password.

    No connection is even attempted (``smtplib.SMTP`` would fail the test).
    """
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)

    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("connected to a remote server to log in without TLS")

    monkeypatch.setattr(smtplib, "SMTP", no_connection)
    smtp = SmtpConfig(host="smtp.contoso.com", username="hostsync", password_env="SMTP_PASSWORD")
    with pytest.raises(EngineError, match=r"in clear to smtp\.contoso\.com"):
        send_email(smtp, message())


@pytest.mark.parametrize(
    ("smtp", "message_"),
    [
        (
            'tls = "starttls"\nstarttls = true\n',
            r'settings.smtp.starttls: is the older spelling of tls = "starttls": give tls alone',
        ),
        ('ca_file = "ca.pem"\n', r"settings.smtp.ca_file: is used only with TLS"),
        ('password_env = "P"\n', r"settings.smtp.password_env: is used only with username"),
        ('username = "u"\n', r"settings.smtp.username: needs password_env"),
        (
            'tls = "implicit"\nport = 587\n',
            r'settings.smtp.tls: "implicit" does not work on port 587',
        ),
        (
            "port = 465\n",
            r'settings.smtp.tls: port 465 speaks TLS from the first byte: set tls = "implicit"',
        ),
        ('tls = "ssl"\n', r"settings.smtp.tls: Input should be 'none', 'starttls' or 'implicit'"),
        (
            'tls = "starttls"\nca_file = "missing.pem"\n',
            r"settings.smtp.ca_file: cannot load CA certificates from /jobs/missing.pem: "
            r"No such file or directory",
        ),
    ],
)
def test_unusable_smtp_settings_are_refused_naming_the_key(smtp: str, message_: str) -> None:
    """Each combination that cannot work, or would leak the password, is a one-line job error."""
    text = HEAD + "[settings.smtp]\n" + smtp
    with pytest.raises(JobFileError, match="^job.toml: " + message_.replace("(", r"\(")):
        parse_job(text, Path("/jobs/job.toml"))


def test_a_ca_file_that_holds_no_certificate_is_refused(tmp_path: Path) -> None:
    """A ``ca_file`` that is not PEM certificates fails at load, not at the first e-mail."""
    (tmp_path / "ca.pem").write_text("not a certificate\n")
    with pytest.raises(JobFileError, match=r"^job.toml: settings.smtp.ca_file: cannot load CA"):
        smtp_config(tmp_path, 'tls = "starttls"\nca_file = "ca.pem"\n')


def test_the_port_follows_the_tls_mode_unless_given() -> None:
    """Implicit TLS defaults to port 465, the others to 25; ``starttls`` still maps to a mode."""
    assert SmtpConfig(tls="implicit").server_port == 465
    assert SmtpConfig(tls="starttls").server_port == 25
    assert SmtpConfig(tls="implicit", port=2465).server_port == 2465
    assert (SmtpConfig(starttls=True).mode, SmtpConfig().mode) == ("starttls", "none")
