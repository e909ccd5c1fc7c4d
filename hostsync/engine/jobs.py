"""The job file (TOML): target, source, scope, scoping filters, mappings and settings.

A minimal job (issue 5 §1) names only the target, the source and the scope::

    scope = "assigned"            # or "all"
    [target]
    tenant_url = "http://127.0.0.1:8000/v1/usersync/SCIM"
    secret_token_env = "HOSTSYNC_TARGET_TOKEN"   # or: secret_token = "..."
    [source]
    type = "graph-json"           # or "csv"
    path = "directory.json"       # relative to the job file

Everything else has Entra's defaults (docs/engine.md lists every key). A bad job file raises
:class:`~hostsync.engine.errors.JobFileError` whose message names the key, e.g.
``job.toml: settings.concurrency: must be ≥ 1`` or ``job.toml: target.tenant_ur: unknown key``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hostsync.engine.errors import ExpressionError, JobFileError
from hostsync.engine.mappings import (
    Apply,
    AttributeMapping,
    compile_mapping,
    default_group_mappings,
    default_user_mappings,
)
from hostsync.engine.scoping import Clause, ScopingFilter, canonical_operator
from hostsync.engine.wire import Dialect


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetConfig(_Section):
    """``[target]``: the SCIM endpoint and its secret token."""

    tenant_url: str = Field(pattern=r"^https?://\S+$")
    secret_token: str | None = None
    secret_token_env: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_token(self) -> TargetConfig:
        if (self.secret_token is None) == (self.secret_token_env is None):
            raise ValueError("give exactly one of secret_token and secret_token_env")
        return self


class SourceConfig(_Section):
    """``[source]``: where the directory is read from."""

    type: Literal["graph-json", "csv"]
    path: str = Field(min_length=1)


class ClauseConfig(_Section):
    """One scoping clause."""

    attribute: str = Field(min_length=1)
    operator: str
    value: str = ""

    @field_validator("operator")
    @classmethod
    def _known(cls, value: str) -> str:
        return canonical_operator(value)


class FilterConfig(_Section):
    """One scoping filter (its clauses are ANDed; filters are ORed)."""

    title: str = ""
    clauses: list[ClauseConfig] = Field(min_length=1)


class MappingConfig(_Section):
    """One attribute mapping; overrides the default mapping of the same target."""

    target: str = Field(min_length=1)
    source: str | None = None
    constant: str | None = None
    expression: str | None = None
    default: str | None = None
    match: int | None = Field(default=None, ge=1)
    apply: Apply = Apply.ALWAYS
    enabled: bool = True


class ObjectConfig(_Section):
    """``[users]`` / ``[groups]``: mappings and scoping filters of one object type."""

    enabled: bool = True
    default_mappings: bool = True
    mappings: list[MappingConfig] = Field(default_factory=list)
    scoping_filters: list[FilterConfig] = Field(default_factory=list)


SmtpTls = Literal["none", "starttls", "implicit"]
IMPLICIT_TLS_PORT = 465
"""The submission port of implicit TLS (RFC 8314); the default port when ``tls = "implicit"``."""
PLAIN_PORTS = frozenset({25, 587})
"""Ports whose servers greet in clear (``none`` or ``starttls``), never with a TLS handshake."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, 127.0.0.0/8 or ``::1``.

    Decided from the text alone (no DNS look-up): a name other than ``localhost`` may resolve
    anywhere.
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class SmtpConfig(_Section):
    """``[settings.smtp]``: the server failure e-mails go through.

    ``tls`` says how the connection is protected: ``"starttls"`` upgrades a plain connection
    (ports 587 and 25), ``"implicit"`` speaks TLS from the first byte (port 465, then the
    default port), ``"none"`` sends in clear (the default: a relay on this machine). TLS
    verifies the server's certificate and host name against the system's CAs, or only against
    those of ``ca_file`` (a PEM file, relative to the job file). ``starttls = true`` is the
    older spelling of ``tls = "starttls"``. :func:`check_smtp` refuses the combinations that
    cannot work or would leak the password.
    """

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    """None: 465 with implicit TLS, otherwise 25."""
    username: str | None = Field(default=None, min_length=1)
    password_env: str | None = Field(default=None, min_length=1)
    tls: SmtpTls | None = None
    starttls: bool | None = None
    """The older spelling of ``tls``: true is ``"starttls"``, false ``"none"``."""
    ca_file: str | None = Field(default=None, min_length=1)
    sender: str = "hostsync@localhost"

    @property
    def mode(self) -> SmtpTls:
        """The TLS mode in force: ``tls``, else what ``starttls`` says, else ``"none"``."""
        if self.tls is not None:
            return self.tls
        return "starttls" if self.starttls else "none"

    @property
    def server_port(self) -> int:
        """The port connected to: ``port``, else the mode's default (465 or 25)."""
        if self.port is not None:
            return self.port
        return IMPLICIT_TLS_PORT if self.mode == "implicit" else 25


def check_smtp(smtp: SmtpConfig) -> tuple[str, str] | None:
    """The first unusable combination of ``[settings.smtp]`` keys: ``(key, message)``, or None.

    Refused: ``tls`` with ``starttls``; ``ca_file`` without TLS; a login (``username``) without
    ``password_env`` or the reverse; a login without TLS to a server that is not on loopback
    (the password would cross the network in clear); a TLS mode that contradicts the well-known
    port (the client would wait for a greeting or a handshake that never comes).
    """
    mode = smtp.mode
    if smtp.tls is not None and smtp.starttls is not None:
        return "starttls", 'is the older spelling of tls = "starttls": give tls alone'
    if smtp.ca_file is not None and mode == "none":
        return "ca_file", 'is used only with TLS: set tls = "starttls" or "implicit"'
    if smtp.password_env is not None and smtp.username is None:
        return "password_env", "is used only with username: give the account to log in as"
    if smtp.username is not None and smtp.password_env is None:
        return "username", "needs password_env: the environment variable holding the password"
    if smtp.username is not None and mode == "none" and not is_loopback(smtp.host):
        return "username", (
            f"a login without TLS would send the password in clear to {smtp.host}; "
            'set tls = "starttls" or "implicit" (a plain login is allowed only to a loopback '
            "server)"
        )
    if mode == "implicit" and smtp.server_port in PLAIN_PORTS:
        return "tls", (
            f'"implicit" does not work on port {smtp.server_port}, whose servers greet in '
            f'clear: use tls = "starttls" there, or port {IMPLICIT_TLS_PORT}'
        )
    if mode != "implicit" and smtp.server_port == IMPLICIT_TLS_PORT:
        instead = " in place of starttls" if smtp.starttls is not None else ""
        return "tls", (
            f'port {IMPLICIT_TLS_PORT} speaks TLS from the first byte: set tls = "implicit"'
            f"{instead}"
        )
    return None


class SettingsConfig(_Section):
    """``[settings]``."""

    notification_email: str | None = None
    send_failure_email: bool = True
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    skip_out_of_scope_deletions: bool = False
    deletion_threshold: int = Field(default=500, ge=0)
    """Most disables + deletes one cycle may send; 0 turns the protection off."""
    hard_deletes: bool = True
    """Send DELETE for hard-deleted users; false for soft-delete-only targets (disable instead)."""
    dialect: Dialect = Dialect.COMPLIANT
    requests_per_second: float = Field(default=25.0, ge=0)
    """0 means unlimited."""
    concurrency: int = Field(default=8, ge=1, le=256)
    interval_minutes: float = Field(default=40.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    exclude_default_access_role: bool = True
    member_batch_size: int = Field(default=100, ge=1, le=1000)
    matching: Literal["auto", "list", "query"] = "auto"
    """How unlinked objects are matched: ``query`` sends one ``filter=… eq …`` query per
    object (Entra, docs/reference/entra-engine.md#matching); ``list`` pages through the target
    once and matches in memory; ``auto`` lists when that is cheaper (many objects to match, a
    small target)."""
    escrow_retry_minutes: list[float] = Field(
        default_factory=lambda: [0.0, 360.0, 720.0, 1440.0], min_length=1
    )
    """Delays (minutes) after the 1st, 2nd, … consecutive failure of an object before it is tried
    again: the next cycle (Entra: "retried in 40 minutes"), then +6 h, +12 h, +24 h, then every
    last delay (docs/reference/entra-engine.md#escrow). A source change to the object retries it
    at once."""
    quarantine_retry_minutes: list[float] = Field(
        default_factory=lambda: [360.0, 720.0, 1440.0], min_length=1
    )
    """Delays (minutes) before the next cycles of a quarantined job: +6 h, +12 h, +24 h, then
    every 24 h (docs/reference/entra-engine.md#quarantine)."""
    quarantine_disable_days: float = Field(default=28.0, gt=0)
    """A job quarantined this long without a successful cycle is disabled.

    See docs/reference/entra-engine.md#quarantine.
    """

    @field_validator("escrow_retry_minutes", "quarantine_retry_minutes")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(delay < 0 for delay in value):
            raise ValueError("delays must be ≥ 0")
        return value


class JobConfig(_Section):
    """The whole job file."""

    scope: Literal["assigned", "all"]
    target: TargetConfig
    source: SourceConfig
    settings: SettingsConfig = Field(default_factory=SettingsConfig)
    users: ObjectConfig = Field(default_factory=ObjectConfig)
    groups: ObjectConfig = Field(default_factory=ObjectConfig)


@dataclass(frozen=True, slots=True)
class Job:
    """A loaded job: its configuration with mappings and filters compiled."""

    name: str
    path: Path
    config: JobConfig
    user_mappings: tuple[AttributeMapping, ...]
    group_mappings: tuple[AttributeMapping, ...]
    user_filters: tuple[ScopingFilter, ...]
    group_filters: tuple[ScopingFilter, ...]

    @property
    def source_path(self) -> Path:
        """The source file, resolved against the job file's directory."""
        return (self.path.parent / self.config.source.path).resolve()

    @property
    def state_path(self) -> Path:
        """``<job>.state.json`` beside the job."""
        return self.path.with_name(self.path.name + ".state.json")

    @property
    def log_path(self) -> Path:
        """``<job>.log.jsonl`` beside the job."""
        return self.path.with_name(self.path.name + ".log.jsonl")

    @property
    def outbox_path(self) -> Path:
        """``<job>.outbox.json`` beside the job: failure e-mails not sent yet."""
        return self.path.with_name(self.path.name + ".outbox.json")

    @property
    def settings(self) -> SettingsConfig:
        """``[settings]``."""
        return self.config.settings

    def secret_token(self, environ: Mapping[str, str] | None = None) -> str:
        """The target's secret token, read from the environment when configured so."""
        target = self.config.target
        if target.secret_token is not None:
            return target.secret_token
        env = os.environ if environ is None else environ
        name = target.secret_token_env or ""
        token = env.get(name, "")
        if not token:
            raise JobFileError(
                f"{self.path.name}: target.secret_token_env: environment variable {name} is unset"
            )
        return token

    def digest(self) -> str:
        """A digest of what decides scope and values: changing it forces an initial cycle."""
        config = self.config
        relevant = {
            "scope": config.scope,
            "users": config.users.model_dump(mode="json"),
            "groups": config.groups.model_dump(mode="json"),
            "exclude_default_access_role": config.settings.exclude_default_access_role,
        }
        text = json.dumps(relevant, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _location(error: Mapping[str, Any]) -> str:
    parts = [str(p) for p in error["loc"] if p not in {"function-after"}]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "(top level)"


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _merge(
    defaults: tuple[AttributeMapping, ...], entries: list[MappingConfig], section: str, name: str
) -> tuple[AttributeMapping, ...]:
    merged: dict[str, AttributeMapping] = {m.name.lower(): m for m in defaults}
    for index, entry in enumerate(entries):
        key = entry.target.strip().lower()
        if not entry.enabled:
            merged.pop(key, None)
            continue
        try:
            merged[key] = compile_mapping(
                entry.target,
                source=entry.source,
                constant=entry.constant,
                expression=entry.expression,
                default=entry.default,
                match=entry.match,
                apply=entry.apply,
            )
        except (ValueError, ExpressionError) as exc:
            raise JobFileError(f"{name}: {section}.mappings[{index}]: {exc}") from None
    mappings = tuple(merged.values())
    if not any(m.match is not None for m in mappings):
        raise JobFileError(f"{name}: {section}.mappings: no mapping has 'match' set")
    return mappings


def _filters(config: ObjectConfig) -> tuple[ScopingFilter, ...]:
    return tuple(
        ScopingFilter(
            item.title or f"filter {index + 1}",
            tuple(Clause(c.attribute, c.operator, c.value) for c in item.clauses),
        )
        for index, item in enumerate(config.scoping_filters)
    )


def _checked_smtp(config: JobConfig, path: Path) -> JobConfig:
    """``config`` with ``settings.smtp`` checked and its ``ca_file`` made absolute and loaded.

    The CA file is loaded once here so that a missing or malformed file is a job-file error at
    load time, not a silent failure of the first e-mail weeks later.
    """
    smtp = config.settings.smtp
    problem = check_smtp(smtp)
    if problem is not None:
        key, message = problem
        raise JobFileError(f"{path.name}: settings.smtp.{key}: {message}")
    if smtp.ca_file is None:
        return config
    ca_file = (path.parent / smtp.ca_file).resolve()
    try:
        ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise JobFileError(
            f"{path.name}: settings.smtp.ca_file: cannot load CA certificates from {ca_file}: "
            f"{reason}"
        ) from None
    smtp = smtp.model_copy(update={"ca_file": str(ca_file)})
    settings = config.settings.model_copy(update={"smtp": smtp})
    return config.model_copy(update={"settings": settings})


def parse_job(text: str, path: Path) -> Job:
    """Parse a job file's text; ``path`` names it in errors and anchors relative paths."""
    name = path.name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JobFileError(f"{name}: not valid TOML: {exc}") from None
    try:
        config = JobConfig.model_validate(data)
    except ValidationError as exc:
        # A misspelt key also makes the right one "missing": report the misspelling first.
        first = min(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        raise JobFileError(f"{name}: {_location(first)}: {_message(first)}") from None
    config = _checked_smtp(config, path)
    user_defaults = default_user_mappings() if config.users.default_mappings else ()
    group_defaults = default_group_mappings() if config.groups.default_mappings else ()
    users = _merge(user_defaults, config.users.mappings, "users", name)
    groups = (
        _merge(group_defaults, config.groups.mappings, "groups", name)
        if config.groups.enabled
        else ()
    )
    try:
        user_filters, group_filters = _filters(config.users), _filters(config.groups)
    except re.error as exc:  # a bad REGEX MATCH value
        raise JobFileError(f"{name}: scoping_filters: {exc}") from None
    return Job(path.stem, path, config, users, groups, user_filters, group_filters)


def load_job(path: Path) -> Job:
    """Read and parse a job file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise JobFileError(f"cannot read job file {path}: {exc.strerror}") from None
    return parse_job(text, path.resolve())
