"""``hostsync serve``: proxy options and settings reach uvicorn; without them uvicorn does not
trust ``X-Forwarded-*`` (its own default trusts 127.0.0.1); a ``--host`` address is served."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hostsync.cli import main

ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - what serve is told, nothing binds it here


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """uvicorn.run replaced by a recorder; the variables serve sets are restored afterwards."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("HOSTSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("HOSTSYNC_ALLOWED_HOSTS", "")
    monkeypatch.delenv("HOSTSYNC_PROXY_HEADERS", raising=False)
    monkeypatch.delenv("HOSTSYNC_FORWARDED_ALLOW_IPS", raising=False)
    return calls


def test_forwarded_headers_are_ignored_by_default(runs: list[dict[str, Any]]) -> None:
    """Client address and scheme come from the socket unless proxy headers are asked for."""
    main(["serve"])
    assert runs[0]["proxy_headers"] is False
    assert runs[0]["server_header"] is False


def test_proxy_options_reach_uvicorn(runs: list[dict[str, Any]]) -> None:
    """``--proxy-headers --forwarded-allow-ips LIST`` (the options docs/ tell users to pass)."""
    main(["serve", "--proxy-headers", "--forwarded-allow-ips", "10.0.0.7,192.168.0.0/16"])
    assert runs[0]["proxy_headers"] is True
    assert runs[0]["forwarded_allow_ips"] == "10.0.0.7,192.168.0.0/16"


def test_proxy_settings_come_from_the_environment(
    runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HOSTSYNC_PROXY_HEADERS`` and ``HOSTSYNC_FORWARDED_ALLOW_IPS``; an option wins."""
    monkeypatch.setenv("HOSTSYNC_PROXY_HEADERS", "true")
    monkeypatch.setenv("HOSTSYNC_FORWARDED_ALLOW_IPS", "10.1.1.1")
    main(["serve"])
    main(["serve", "--no-proxy-headers"])
    assert (runs[0]["proxy_headers"], runs[0]["forwarded_allow_ips"]) == (True, "10.1.1.1")
    assert runs[1]["proxy_headers"] is False


def test_an_address_to_listen_on_is_an_allowed_host(runs: list[dict[str, Any]]) -> None:
    """``--host 10.2.3.4``: clients that connect by that address are served; ``0.0.0.0`` is
    not a name any client sends, so it adds nothing."""
    main(["serve", "--host", "10.2.3.4"])
    assert os.environ["HOSTSYNC_ALLOWED_HOSTS"] == "10.2.3.4"
    os.environ["HOSTSYNC_ALLOWED_HOSTS"] = ""
    main(["serve", "--host", ANY_ADDRESS])
    assert os.environ["HOSTSYNC_ALLOWED_HOSTS"] == ""
    assert [run["host"] for run in runs] == ["10.2.3.4", ANY_ADDRESS]


def test_keep_alive_and_protocol_reach_uvicorn(
    runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle connections stay open 75 s unless ``HOSTSYNC_KEEP_ALIVE_SECONDS`` says otherwise,
    on the protocol that logs connections closed with a request in flight."""
    from hostsync.cli.connections import HttpProtocol

    monkeypatch.delenv("HOSTSYNC_KEEP_ALIVE_SECONDS", raising=False)
    main(["serve"])
    monkeypatch.setenv("HOSTSYNC_KEEP_ALIVE_SECONDS", "12")
    main(["serve"])
    assert [run["timeout_keep_alive"] for run in runs] == [75, 12]
    assert runs[0]["http"] is HttpProtocol


def test_a_keep_alive_of_zero_is_refused(
    runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A keep-alive that is not a positive number stops serve with a message, not a traceback."""
    monkeypatch.setenv("HOSTSYNC_KEEP_ALIVE_SECONDS", "0")
    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "HOSTSYNC_KEEP_ALIVE_SECONDS: Input should be greater than or equal to 1" in error
    assert "Traceback" not in error
    assert runs == []
