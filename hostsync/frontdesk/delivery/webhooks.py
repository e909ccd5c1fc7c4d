"""The webhook sender: one JSON POST per delivery (httpx), its answer turned into an outcome.

A 2xx answer is sent. A 4xx answer other than 408 and 429 is refused for good (the URL is
wrong or the receiver will not take this body: a retry would be refused the same way). 408,
429, 5xx, redirects, timeouts and connection errors are tried again later. Redirects are
not followed: a webhook URL names its receiver. A webhook URL is a secret (it authorises
posting), so an error names only its host, never its path or query.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import httpx
import orjson

from hostsync.frontdesk.ports import Outcome

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "hostsync-notifications/1"


def host_of(url: str) -> str:
    """A webhook URL as errors may name it: its host alone."""
    try:
        return urlsplit(url).hostname or "(no host)"
    except ValueError:
        return "(an unreadable URL)"


def check_url(url: str, *, private: bool = True) -> str | None:
    """Why ``url`` cannot be a webhook URL, or None when it can.

    It must be ``http(s)`` with a host; unless ``private``, ``https`` to a public host only
    (no loopback, private, link-local or ``.local``-style names).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "the address cannot be read"
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not private):
        return "the address must start with https://"
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "the address has no host"
    if not private and _private_host(host):
        return f"{host} is not a public host"
    return None


def _private_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return (
            host == "localhost"
            or "." not in host
            or host.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa"))
        )
    return not address.is_global


def classify(status: int) -> Outcome:
    """An HTTP answer's status as an outcome."""
    if 200 <= status < 300:
        return Outcome.success()
    error = f"the receiver answered HTTP {status}"
    if 400 <= status < 500 and status not in (408, 429):
        return Outcome.refused(error)
    return Outcome.transient(error)


class WebhookSender:
    """Posts JSON bodies; one pooled client (its connections are reused across posts)."""

    def __init__(self, client: httpx.Client | None = None, *, timeout: float | None = None) -> None:
        self.client = client or httpx.Client(
            timeout=DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> Outcome:
        """POST ``body`` (JSON) to ``url``; never raises."""
        problem = check_url(url)
        if problem is not None:
            return Outcome.refused(f"the webhook address is unusable: {problem}")
        request_headers = {"Content-Type": "application/json", **(headers or {})}
        try:
            if timeout is None:
                response = self.client.post(url, content=body, headers=request_headers)
            else:
                response = self.client.post(
                    url, content=body, headers=request_headers, timeout=httpx.Timeout(timeout)
                )
        except httpx.TimeoutException:
            return Outcome.transient(f"{host_of(url)} did not answer in time")
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return Outcome.transient(f"cannot reach {host_of(url)}: {type(exc).__name__}")
        return classify(response.status_code)

    def post_json(
        self, url: str, document: object, headers: dict[str, str] | None = None
    ) -> Outcome:
        """POST ``document`` encoded as JSON."""
        return self.post(url, orjson.dumps(document), headers)

    def close(self) -> None:
        """Close the pooled connections."""
        self.client.close()
