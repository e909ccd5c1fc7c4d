"""Real servers for the notification tests: SMTP (aiosmtpd) and an HTTP webhook receiver.

Both listen on loopback on a port picked here (aiosmtpd's ``Controller(port=0)`` does not
work), and keep what they receive for the test to inspect.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

PASSWORD = "p@ss:w/rd"  # characters a URL must encode


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler that keeps every message; ``reply`` may refuse some."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.reply: Callable[[EmailMessage], str] = lambda _mail: "250 OK"
        self.logins: list[tuple[str, str]] = []
        self.delay = 0.0  # seconds before each message is taken

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        answer = self.reply(mail)
        if answer.startswith("250"):
            with self.lock:
                self.messages.append(mail)
        return answer

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password.decode() == PASSWORD)

    def ids(self) -> list[str]:
        """The Message-IDs received, in order."""
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


class SmtpServer:
    """A running (or stopped) aiosmtpd server on a fixed loopback port."""

    def __init__(self, tls: str = "none", ca: trustme.CA | None = None, port: int = 0) -> None:
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.tls = tls
        self.ca = ca
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self.tls != "none":
            assert self.ca is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            # aiosmtpd counts only STARTTLS as TLS for AUTH; SMTPS is TLS from the start.
            options = {"authenticator": self.mailbox.authenticate}
            if self.tls == "starttls":
                options |= {"tls_context": context, "require_starttls": True}
                options |= {"auth_require_tls": True}
            else:
                options |= {"ssl_context": context, "auth_require_tls": False}
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class Received:
    """One request the receiver took."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path, self.headers, self.body = path, headers, body


class Receiver:
    """A threading HTTP server that records POSTs and answers ``status`` (settable)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
