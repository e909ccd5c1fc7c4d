"""Settings: typed, read from ``HOSTSYNC_*`` environment variables, built once by the CLI."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./hostsync.db"
SCIM_PREFIX = "/v1/usersync/SCIM"


class Settings(BaseSettings):
    """Everything a hostsync process can be configured with."""

    model_config = SettingsConfigDict(env_prefix="HOSTSYNC_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: ``sqlite:///path.db`` (default) or ``postgresql://user@host/db``."""
    sqlite_mmap_mb: int = Field(default=128, ge=0)
    """How many MB of a SQLite file are read through a memory map (0: none; read calls)."""
    postgres_connections: int = Field(default=16, ge=1)
    """How many PostgreSQL connections each worker process keeps open. As many SCIM units of
    work run at once; the others wait their turn, so no request opens a connection."""
    public_url: str | None = None
    """The server's public base URL (``https://hosts.example.com``); else taken per request."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest request body accepted (413 above it); also ``bulk.maxPayloadSize``."""
    max_results: int = Field(default=1000, ge=1)
    """Most resources one list or search returns (``filter.maxResults``)."""
    filter_max_scan_terms: int = Field(default=10, ge=1)
    """Most terms one filter may hold that no index answers (``title co "x"``, ``emails[…]``:
    each compares every candidate row's stored attributes); more is 400 ``invalidFilter``."""
    costly_queries: int = Field(default=2, ge=1)
    """Costly list queries (no index bounds their rows) run at once per worker process."""
    costly_queries_per_tenant: int = Field(default=1, ge=1)
    """Of those, at most this many of one tenant; the others wait on the event loop."""
    costly_wait_ms: int = Field(default=300, ge=0)
    """How long a costly query may wait for its turn; past it, 503 with ``Retry-After``."""
    query_budget_ms: int = Field(default=1000, ge=10)
    """Database time one costly query may use; past it, 400 ``tooMany`` (store/budget.py)."""
    bulk_max_operations: int = Field(default=1000, ge=1)
    """Most operations one ``/Bulk`` request may carry."""
    max_patch_operations: int = Field(default=1000, ge=1)
    """Most operations one PATCH request may carry."""
    inline_members_max: int = Field(default=1000, ge=0)
    """Groups with more members answer PATCH without ``members`` unless asked for them."""
    request_count_flush_seconds: float = Field(default=5.0, ge=0)
    """How often each process adds its in-memory request counts to the database."""
    activity_retention_days: int = Field(default=90, ge=1)
    """How long the provisioning activity log keeps entries before pruning them."""
    frontdesk_chores_seconds: float = Field(default=60.0, gt=0)
    """How often each server process checks visitors out at their site's end of day (and,
    hourly, anonymises visits past their tenant's retention period: web/lifecycle.py)."""
    key_cache_seconds: float = Field(default=5.0, ge=0)
    """How long a verified API key is trusted without a database lookup, at most. A revocation
    ends the trust at once in every process (store/key_signal.py); this bounds it where no
    signal reaches (a PostgreSQL notification lost with its connection, a key edited by hand)."""
    auth_failure_limit: str = "20/minute"
    """Failed authentications (unknown or revoked keys) allowed per client address (IPv6: per
    /64), ``limits`` notation; past it, keys this process has not verified get 429 without a
    database lookup. Empty or ``none``: no limit."""
    rate_limit: str = "500/second;6000/minute"
    """Per-API-key request limits in the ``limits`` library's notation, ``;``-separated: the
    default sustains 100 requests/second (6000 a minute) with bursts of up to 500 in one
    second; Entra needs at least 25/s per tenant. Empty or ``none`` switches limiting off."""
    kiosk_search_limit: str = "10/second;300/minute"
    """Host searches allowed per kiosk (``limits`` notation, ``;``-separated; counted in the
    same store as ``rate_limit``): enough for a visitor typing, too few to read the directory
    out. Empty or ``none`` switches it off."""
    rate_limit_strategy: Literal["sliding-window-counter", "moving-window", "fixed-window"] = (
        "sliding-window-counter"
    )
    """How the ``limits`` library counts requests within a window."""
    redis_url: str | None = None
    """``redis://host:port/db``: keep rate-limit counters in Redis, shared by every worker
    process and server; without it each process counts on its own (docs/hardening.md)."""
    session_idle_minutes: float = Field(default=30, gt=0)
    """A console session ends after this many minutes without a page view."""
    session_lifetime_hours: float = Field(default=12, gt=0)
    """A console session ends this many hours after sign-in, however busy."""
    signin_limit_per_address_account: str = "5/15 minutes"
    """Failed sign-ins allowed per client address and account (``limits`` notation)."""
    signin_limit_per_address: str = "30/15 minutes"
    """Failed sign-ins allowed per client address (IPv6: per /64), any account."""
    signin_limit_per_account: str = "100/15 minutes"
    """Failed sign-ins allowed per account from any address (slows distributed guessing; an
    attacker can use it to hold an account's sign-in for a window: keep it well above the
    per-address figure)."""
    signin_max_verifications: int = Field(default=4, ge=1)
    """Password verifications (argon2) run at once; twice as many wait, further sign-ins
    answer 503 with ``Retry-After``."""
    console_max_body_bytes: int = Field(default=16_384, ge=1024)
    """Largest console request body (413 above it)."""
    sso_start_limit: str = "30/minute"
    """SP-initiated single sign-on starts (``/saml/<tenant>/login``) allowed per client address
    (IPv6: per /64), ``limits`` notation; past it, 429 with ``Retry-After``. Each start stores
    a row for 30 minutes. Empty or ``none``: no limit."""
    sso_outstanding_requests: int = Field(default=1000, ge=1)
    """Most SP-initiated sign-ins one tenant keeps waiting for Entra's answer; a start beyond
    it removes that tenant's oldest (whose answer is then refused), never another tenant's."""
    kiosk_idle_seconds: int = Field(default=30, ge=1, le=3600)
    """A kiosk page left untouched this many seconds returns to its start screen (clearing
    what a visitor typed)."""
    allowed_hosts: str = ""
    """Host names (comma-separated, ``*.example.com`` for subdomains, ``*`` for any) answered
    besides ``localhost``, ``127.0.0.1``, ``[::1]`` and the host of ``public_url``; any other
    ``Host`` header gets 400 (defeats DNS rebinding)."""
    proxy_headers: bool = False
    """Take the client address and scheme from ``X-Forwarded-For``/``-Proto`` sent by a proxy
    in ``forwarded_allow_ips``; off: both come from the socket."""
    forwarded_allow_ips: str = "127.0.0.1"
    """Comma-separated addresses or networks of the proxies trusted when ``proxy_headers``."""
    keep_alive_seconds: int = Field(default=75, ge=1)
    """How long ``hostsync serve`` keeps an idle HTTP connection open: longer than clients and
    proxies keep theirs, so they close first and never send on one it closed
    (docs/hardening.md, *Keep-alive*)."""
    smtp_url: str | None = Field(default=None, repr=False)
    """The SMTP server arrival e-mails go through: ``smtp://host:port``, ``smtps://host`` (TLS
    from the start), ``?starttls=true``, ``user:password@`` (URL-encoded) for a login
    (frontdesk/delivery/smtp.py). Never logged or shown with its password."""
    smtp_ca_file: str | None = None
    """A PEM file of the CAs the SMTP server's certificate is verified against (instead of
    the system's): a private CA."""
    mail_from: str | None = None
    """The ``From`` address of arrival e-mails (``Front desk <frontdesk@example.com>``);
    without it (or without ``smtp_url``) no e-mail is sent."""
    secret_key: str | None = Field(default=None, repr=False)
    """The server key that seals webhook URLs and signing secrets (a Fernet key); else the
    key file's (``secret_key_file``)."""
    secret_key_file: str | None = None
    """Where the server key is kept when ``secret_key`` is unset: default ``hostsync.key``
    beside the SQLite file (``./hostsync.key`` for PostgreSQL), created 0600 when missing."""
    outbox_batch: int = Field(default=50, ge=1, le=1000)
    """Deliveries one notification worker claims and sends per pass."""
    outbox_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How long an idle notification worker waits before looking for due deliveries again."""
    outbox_lease_seconds: float = Field(default=120.0, ge=1, le=3600)
    """How long a worker holds the deliveries it claimed; a worker that dies leaves them to
    the others this long after its claim. Longer than a pass can take (timeouts included)."""
    outbox_worker: bool = True
    """Whether ``hostsync serve`` sends notifications itself (a background thread per
    process); false when ``hostsync outbox run`` sends them in a process of its own."""
    webhook_private_addresses: bool = False
    """Accept notification webhook URLs naming loopback, private or link-local hosts and plain
    ``http:`` (on-premises receivers, tests); off: ``https:`` to public hosts only, so the
    console's **Send test** cannot probe the server's own network."""
