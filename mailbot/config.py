"""One typed, frozen ``Settings`` object from an optional TOML file plus ``MAILBOT_*`` variables.

Size (over 400 lines): every key is still declared twice (the dataclasses and ``_SCHEMA``) with
hand-written converters; issue 10's move to pydantic-settings removes that and is still open.

Why it looks like this:

- Nothing is read at import time: the composition root calls :func:`load_settings` once with the
  environment it wants, so tests pass a plain dict instead of patching ``os.environ``.
- Every setting has one spelling in the file (``[imap] host``) and one in the environment
  (``MAILBOT_IMAP__HOST``); the environment wins, so containers can override a baked-in file.
- Mistakes surface at start-up as one line naming the key (``imap.port: ...``), never later as a
  stack trace from an adapter; the CLI prints ``str(ConfigError)`` and exits with status 2.
- Secrets (passwords, the master key, a database URL's password) never appear in ``repr()``, so
  logging a Settings object, or a traceback showing one, leaks nothing.
- R-C20: mail to and from the mail server is encrypted; ``plain`` is refused for any host that is
  not loopback, because a typo in production must not silently send credentials in clear text.

Resolution order for each key: embedded default < TOML file < environment. A few defaults are
derived from other keys (ports from ``security``, database and key paths from ``storage.dir``,
``smtp.from_address`` from ``organisation.mailbox``, ``staff.escalation_address`` from the first
staff address); an explicit value always wins over a derived one.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mailbot.domain.retention import RETAINABLE_FIELDS, RetentionDuty, TicketRetention

__all__ = [
    "AfterFetch",
    "ConfigError",
    "DeadlineSettings",
    "HoursMode",
    "ImapSettings",
    "ListenerSettings",
    "ModelSettings",
    "OrganisationSettings",
    "PathSettings",
    "ProcessingSettings",
    "Security",
    "Settings",
    "SmtpSettings",
    "StaffSettings",
    "StorageSettings",
    "env_name",
    "known_keys",
    "load_settings",
]

ENV_PREFIX = "MAILBOT_"
CONFIG_ENV = "MAILBOT_CONFIG"
MASTER_KEY_ENV = "MAILBOT_MASTER_KEY"


class ConfigError(Exception):
    """A setting that cannot be used; ``str()`` is one line an admin can act on."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.key}: {self.problem}"


class Security(StrEnum):
    """How a mail connection is protected (R-C20)."""

    TLS = "tls"
    STARTTLS = "starttls"
    PLAIN = "plain"


class AfterFetch(StrEnum):
    """What happens to an IMAP message once its encrypted copy is committed (R-C17, R-C18)."""

    MOVE = "move"
    FLAG = "flag"


class HoursMode(StrEnum):
    """Whether the first-response clock counts every hour (R-B1 decision) or office hours only."""

    CALENDAR = "calendar"
    BUSINESS = "business"


# --------------------------------------------------------------------------------------------
# The typed result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationSettings:
    name: str
    mailbox: str
    domain: str
    ticket_prefix: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        """The zone deadlines are computed in (R-A1: receipt is read in Europe/Amsterdam)."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, repr=False)
class StorageSettings:
    dir: Path
    database_url: str
    key_file: Path

    @property
    def inbox_dir(self) -> Path:
        """Maildir the embedded SMTP listener delivers into, and the source when IMAP is off."""
        return self.dir / "inbox"

    @property
    def sent_dir(self) -> Path:
        """Maildir outgoing mail is written to when no SMTP host is configured."""
        return self.dir / "sent"

    def __repr__(self) -> str:
        # A PostgreSQL URL may carry a password; show where the database is, never the secret.
        return (
            f"StorageSettings(dir={self.dir!r}, database_url={_redact_url(self.database_url)!r}, "
            f"key_file={self.key_file!r})"
        )


@dataclass(frozen=True)
class ImapSettings:
    host: str | None
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)
    password_file: Path | None
    folder: str
    processed_folder: str
    after: AfterFetch
    poll_seconds: int
    idle: bool
    batch_size: int
    timeout_seconds: int

    @property
    def enabled(self) -> bool:
        """No host means the embedded Maildir inbox is the source."""
        return self.host is not None


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)
    password_file: Path | None
    timeout_seconds: int
    retry_horizon_hours: int
    from_address: str

    @property
    def enabled(self) -> bool:
        """No host means outgoing mail is written to the ``sent`` Maildir instead."""
        return self.host is not None


@dataclass(frozen=True)
class ListenerSettings:
    enabled: bool
    host: str
    port: int
    #: The listener has no authentication: beyond loopback only when the operator says a border
    #: MTA on a private network is the only thing that can reach it.
    private_network: bool = False


@dataclass(frozen=True)
class StaffSettings:
    addresses: tuple[str, ...]
    escalation_address: str
    digest_time: time


@dataclass(frozen=True)
class ProcessingSettings:
    max_attempts: int
    auto_reply_cap_per_day: int


@dataclass(frozen=True)
class DeadlineSettings:
    first_response_hours: int
    hours_mode: HoursMode
    business_day_start: time
    business_day_end: time
    internal_target_working_days: int
    complaint_resolution_weeks: int
    extra_holidays: tuple[date, ...]
    reminder_hours_before: tuple[int, ...]
    escalation_hours_after: tuple[int, ...]
    legal_reminder_days_before: tuple[int, ...]
    legal_escalation_days_after: tuple[int, ...]


@dataclass(frozen=True)
class PathSettings:
    """A directory of company-edited data (``[rules]`` and ``[templates]``)."""

    dir: Path


@dataclass(frozen=True)
class IdentitySettings:
    """How a GDPR request's sender is recognised (issue 11, R-C14/R-C15)."""

    trust_dmarc: bool = False
    authserv_id: str | None = None


@dataclass(frozen=True)
class BackupSettings:
    """Daily encrypted backups (issue 16); paths absolute after loading."""

    dir: Path
    key_file: Path
    restic_repository: str | None
    restic_password_file: Path
    keep_daily: int = 7
    keep_weekly: int = 4
    daily_at: time = time(2, 30)


@dataclass(frozen=True)
class PrivacySettings:
    recipients: tuple[str, ...] = ()
    #: Legal duties that keep some fields of an erased person (R-A12), e.g. invoices for 7 years.
    retention: tuple[RetentionDuty, ...] = ()
    #: The erasure ledger (keyed hashes only), beside the keys and apart from the database (R-D10).
    erasure_ledger: Path | None = None
    #: How long closed tickets keep their correspondence before the daily purge (issue 16).
    ticket_retention: TicketRetention = field(default_factory=TicketRetention)


@dataclass(frozen=True)
class ModelSettings:
    file: Path
    corpus: tuple[Path, ...]
    enabled: bool = True


@dataclass(frozen=True)
class WebSettings:
    """The staff web interface (issue 18): loopback by default, behind a TLS proxy in production."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    #: Where staff reach it (for enrolment links), e.g. https://mailbot.example.nl
    base_url: str = "http://127.0.0.1:8080"
    #: Cookies only over HTTPS; off only for plain-HTTP tests on loopback.
    secure_cookies: bool = True
    password_max_age_days: int = 365


@dataclass(frozen=True)
class Settings:
    organisation: OrganisationSettings
    storage: StorageSettings
    imap: ImapSettings
    smtp: SmtpSettings
    listener: ListenerSettings
    staff: StaffSettings
    processing: ProcessingSettings
    deadlines: DeadlineSettings
    rules: PathSettings
    templates: PathSettings
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    backup: BackupSettings | None = None
    model: ModelSettings | None = None
    web: WebSettings = field(default_factory=WebSettings)
    #: The key-encryption key from ``MAILBOT_MASTER_KEY``, if given; otherwise ``storage.key_file``.
    master_key: str | None = field(default=None, repr=False)
    #: The file the settings came from (None: defaults and environment only), for start-up logs.
    config_file: Path | None = None


# --------------------------------------------------------------------------------------------
# Converters: raw TOML or environment value -> typed value, or _Invalid(problem)
# --------------------------------------------------------------------------------------------


class _Invalid(Exception):
    """A converter's complaint; the loader adds which key and where it came from."""


#: (value, from_env) -> typed value. Environment values are always strings.
_Convert = Callable[[object, bool], Any]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_INT_RE = re.compile(r"[+-]?\d+")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.*")


def _shown(value: object) -> str:
    """A value quoted for an error message (TOML-ish, so ``"ssl"`` reads as the admin wrote it)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), "a table" if isinstance(value, dict) else type(value).__name__)


def _string(value: object, from_env: bool) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be a string (got {_type_name(value)})")
    value = value.strip()
    if not value:
        raise _Invalid("must not be empty")
    return value


def _optional_string(value: object, from_env: bool) -> str | None:
    """Empty means unset, so ``MAILBOT_IMAP__HOST=`` can switch a file's IMAP host off."""
    if isinstance(value, str) and not value.strip():
        return None
    return _string(value, from_env)


def _secret(value: object, from_env: bool) -> str | None:
    # Never echo the value: it is a password.
    if not isinstance(value, str):
        raise _Invalid(f"must be a string (got {_type_name(value)}; value not shown)")
    return value or None


def _integer(low: int, high: int | None = None) -> _Convert:
    def convert(value: object, from_env: bool) -> int:
        if from_env and isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
            number = int(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise _Invalid(f"must be an integer (got {_shown(value)})")
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _Invalid(f"must be {bound} (got {number})")
        return number

    return convert


_port = _integer(1, 65535)


def _boolean(value: object, from_env: bool) -> bool:
    if isinstance(value, bool):
        return value
    if from_env and isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise _Invalid(f"must be true/false, yes/no or 1/0 (got {_shown(value)})")
    raise _Invalid(f"must be true or false (got {_shown(value)})")


def _choice(enum: type[StrEnum]) -> _Convert:
    def convert(value: object, from_env: bool) -> StrEnum:
        choices = ", ".join(member.value for member in enum)
        if isinstance(value, str):
            try:
                return enum(value.strip().lower())
            except ValueError:
                pass
        raise _Invalid(f"must be one of {choices} (got {_shown(value)})")

    return convert


def _clock_time(value: object, from_env: bool) -> time:
    if isinstance(value, time):  # TOML's unquoted local time, e.g. 08:00:00
        return value.replace(second=0, microsecond=0)
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise _Invalid(f'must be a time "HH:MM" between 00:00 and 23:59 (got {_shown(value)})')
    return time(int(match[1]), int(match[2]))


def _address(value: object, from_env: bool) -> str:
    text = _string(value, from_env)
    if not _ADDRESS_RE.fullmatch(text):
        raise _Invalid(f"must be a plain e-mail address like info@example.nl (got {_shown(value)})")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def _domain(value: object, from_env: bool) -> str:
    text = _string(value, from_env)
    if not _DOMAIN_RE.fullmatch(text):
        raise _Invalid(f"must be a domain name like example.nl (got {_shown(value)})")
    return text.lower()


def _prefix(value: object, from_env: bool) -> str:
    # It ends up in subjects as "[ORD-1234]" and in a matching pattern: keep it to letters/digits.
    text = _string(value, from_env)
    if not _PREFIX_RE.fullmatch(text):
        raise _Invalid(f"must be 1-16 letters or digits, starting with a letter (got {_shown(value)})")
    return text


def _timezone(value: object, from_env: bool) -> str:
    text = _string(value, from_env)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Invalid(f"unknown time zone (got {_shown(value)}; e.g. Europe/Amsterdam)") from None
    return text


def _path(value: object, from_env: bool) -> str:
    # Resolved against the working directory later, once all values are known.
    return _string(value, from_env)


def _optional_path(value: object, from_env: bool) -> str | None:
    return _optional_string(value, from_env)


def _database_url(value: object, from_env: bool) -> str:
    text = _string(value, from_env)
    if not _URL_RE.fullmatch(text):
        raise _Invalid("must be a database URL such as sqlite:///storage/mailbot.db or postgresql://...")
    return text


def _items(value: object, from_env: bool) -> list[object]:
    """A TOML array, or a comma-separated environment value (empty: an empty list)."""
    if from_env and isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return value
    raise _Invalid(f"must be a list (got {_type_name(value)})")


def _list_of(item: _Convert, *, allow_empty: bool = True) -> _Convert:
    def convert(value: object, from_env: bool) -> tuple[Any, ...]:
        items = _items(value, from_env)
        if not items and not allow_empty:
            raise _Invalid("must list at least one entry")
        converted = []
        for index, entry in enumerate(items):
            try:
                converted.append(item(entry, from_env))
            except _Invalid as error:
                raise _Invalid(f"entry {index + 1}: {error}") from None
        return tuple(converted)

    return convert


def _retention_duty(value: object, from_env: bool) -> RetentionDuty:
    """One ``[[privacy.retention]]`` table: name, fields, years, basis, applies_to."""
    if from_env or not isinstance(value, dict):
        raise _Invalid("must be a table with name, fields, years and basis (set it in the file)")
    unknown = sorted(set(value) - {"name", "fields", "years", "basis", "applies_to"})
    if unknown:
        raise _Invalid(f"unknown key(s) {', '.join(unknown)}")
    fields = value.get("fields")
    years = value.get("years")
    if not isinstance(value.get("name"), str) or not value["name"].strip():
        raise _Invalid("needs a name")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise _Invalid(f"fields must list some of {', '.join(RETAINABLE_FIELDS)}")
    if not isinstance(years, int) or isinstance(years, bool):
        raise _Invalid("years must be a whole number")
    try:
        return RetentionDuty(
            name=value["name"].strip(),
            fields=tuple(fields),
            years=years,
            basis=str(value.get("basis", "")).strip(),
            applies_to=str(value.get("applies_to", "imported")),
        )
    except ValueError as error:
        raise _Invalid(str(error)) from None


def _iso_date(value: object, from_env: bool) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):  # TOML date, not a datetime
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _Invalid(f"must be a date YYYY-MM-DD (got {_shown(value)})")


# --------------------------------------------------------------------------------------------
# The schema: every key, its converter and its default (None: unset or derived, see _build)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Key:
    convert: _Convert
    default: object = None


_SCHEMA: dict[str, dict[str, _Key]] = {
    "organisation": {
        "name": _Key(_string, "Ordevos"),
        "mailbox": _Key(_address, "info@ordevos.nl"),
        "domain": _Key(_domain, "ordevos.nl"),
        "ticket_prefix": _Key(_prefix, "ORD"),
        "timezone": _Key(_timezone, "Europe/Amsterdam"),
    },
    "storage": {
        "dir": _Key(_path, "storage"),
        "database_url": _Key(_database_url, None),
        "key_file": _Key(_path),
    },
    "imap": {
        "host": _Key(_optional_string),
        "port": _Key(_port),
        "security": _Key(_choice(Security), "tls"),
        "username": _Key(_optional_string),
        "password": _Key(_secret),
        "password_file": _Key(_optional_path),
        "folder": _Key(_string, "INBOX"),
        "processed_folder": _Key(_string, "Processed"),
        "after": _Key(_choice(AfterFetch), "move"),
        "poll_seconds": _Key(_integer(1), 60),
        "idle": _Key(_boolean, True),
        "batch_size": _Key(_integer(1), 200),
        "timeout_seconds": _Key(_integer(1), 60),
    },
    "smtp": {
        "host": _Key(_optional_string),
        "port": _Key(_port),
        "security": _Key(_choice(Security), "tls"),
        "username": _Key(_optional_string),
        "password": _Key(_secret),
        "password_file": _Key(_optional_path),
        "timeout_seconds": _Key(_integer(1), 30),
        "retry_horizon_hours": _Key(_integer(1), 48),
        "from_address": _Key(_address),
    },
    "listener": {
        "enabled": _Key(_boolean, True),
        "host": _Key(_string, "127.0.0.1"),
        "port": _Key(_port, 8025),
        "private_network": _Key(_boolean, False),
    },
    "staff": {
        # Head office, not the mailbox mailbot reads: staff notices must never come back as mail.
        "addresses": _Key(_list_of(_address, allow_empty=False), ["hoofdkantoor@ordevos.nl"]),
        "escalation_address": _Key(_address),
        "digest_time": _Key(_clock_time, "08:00"),
    },
    "processing": {
        "max_attempts": _Key(_integer(1), 3),
        "auto_reply_cap_per_day": _Key(_integer(0), 3),
    },
    "deadlines": {
        "first_response_hours": _Key(_integer(1), 48),
        "hours_mode": _Key(_choice(HoursMode), "calendar"),
        "business_day_start": _Key(_clock_time, "09:00"),
        "business_day_end": _Key(_clock_time, "17:00"),
        "internal_target_working_days": _Key(_integer(1), 20),
        "complaint_resolution_weeks": _Key(_integer(1), 4),
        "extra_holidays": _Key(_list_of(_iso_date), []),
        # The reminder/escalation ladder (issue 5): reminders before a due time, escalations at
        # (0) and after the breach, for the 48-hour first answer and for the GDPR legal term.
        "reminder_hours_before": _Key(_list_of(_integer(1)), [24, 6]),
        "escalation_hours_after": _Key(_list_of(_integer(0)), [0, 24]),
        "legal_reminder_days_before": _Key(_list_of(_integer(1)), [7, 2]),
        "legal_escalation_days_after": _Key(_list_of(_integer(0)), [0, 1]),
    },
    "rules": {"dir": _Key(_path, "rules")},
    "templates": {"dir": _Key(_path, "templates")},
    # The trained text model (issue 14): rules read structure, the model reads the words. Built by
    # ``mailbot model train`` (and ``mailbot init``) from the labelled sets under ``corpus``; with
    # no model file, or ``enabled = false``, the rules classify alone.
    "model": {
        "enabled": _Key(_boolean, True),
        "file": _Key(_optional_path),
        "corpus": _Key(_list_of(_path), ["corpus"]),
    },
    # Trust our own border server's DMARC verdict for a request from the address on file; only
    # Authentication-Results headers with this authserv-id count (R-C14).
    "identity": {
        "trust_dmarc": _Key(_boolean, False),
        "authserv_id": _Key(_optional_string),
    },
    # Who else holds the data (processors: hosting, mail provider, newsletter tool): after a
    # rectification, erasure or restriction each gets a task until staff mark it done (R-A13).
    # Legal retention duties ([[privacy.retention]]: name, fields, years, basis, applies_to) keep
    # those fields of an erased person under a retention key of their own (R-A12).
    "privacy": {
        "recipients": _Key(_list_of(_string), []),
        "retention": _Key(_list_of(_retention_duty), []),
        "erasure_ledger": _Key(_optional_path),
        "complaint_retention_months": _Key(_integer(1), 12),
        "ticket_retention_months": _Key(_integer(1), 24),
    },
    # Daily encrypted backups; the keys default to the master key's directory (apart from the
    # database), the restic repository to a local one (set any restic back end for off-site).
    "backup": {
        "dir": _Key(_optional_path),
        "key_file": _Key(_optional_path),
        "restic_repository": _Key(_optional_string),
        "restic_password_file": _Key(_optional_path),
        "keep_daily": _Key(_integer(1), 7),
        "keep_weekly": _Key(_integer(0), 4),
        "daily_at": _Key(_clock_time, "02:30"),
    },
    # The staff web interface (issue 18), ``mailbot web``; plain HTTP on loopback, TLS at the proxy.
    "web": {
        "enabled": _Key(_boolean, False),
        "host": _Key(_string, "127.0.0.1"),
        "port": _Key(_port, 8080),
        "base_url": _Key(_optional_string),
        "secure_cookies": _Key(_boolean, True),
        "password_max_age_days": _Key(_integer(0), 365),
    },
}

_IMAP_PORTS = {Security.TLS: 993, Security.STARTTLS: 143, Security.PLAIN: 143}
_SMTP_PORTS = {Security.TLS: 465, Security.STARTTLS: 587, Security.PLAIN: 25}


def known_keys() -> list[str]:
    """Every setting as ``section.key``, in file order (for docs checks and a ``config show``)."""
    return [f"{section}.{key}" for section, keys in _SCHEMA.items() for key in keys]


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``[section] key``: ``MAILBOT_SECTION__KEY``."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_settings(path: Path | None, env: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
    """Build the Settings from defaults, the TOML file (if any) and ``MAILBOT_*`` variables.

    ``path`` None falls back to ``MAILBOT_CONFIG`` and then to the embedded defaults alone.
    ``env`` is passed in (usually ``os.environ``) so that nothing is read behind the caller's
    back. Relative paths resolve against ``cwd`` (default: the process's working directory).
    Raises :class:`ConfigError` for the first problem found.
    """
    base = (cwd or Path.cwd()).resolve()
    if path is None and env.get(CONFIG_ENV, "").strip():
        path = Path(env[CONFIG_ENV].strip())
    config_file: Path | None = None
    raw: dict[str, dict[str, tuple[object, str | None]]] = {section: {} for section in _SCHEMA}
    if path is not None:
        config_file = _absolute(path.expanduser(), base)
        for section, values in _read_toml(config_file).items():
            for key, value in values.items():
                raw[section][key] = (value, None)
    for section, key, name, value in _env_overrides(env):
        raw[section][key] = (value, name)

    values = {section: _convert_section(section, raw[section]) for section in _SCHEMA}
    master_key = env.get(MASTER_KEY_ENV) or None
    return _build(values, base, master_key, config_file)


def _absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else base / path


def _read_toml(path: Path) -> dict[str, dict[str, object]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(name, f"cannot read the configuration file: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(name, "the configuration file is not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # The message already says "(at line N, column M)".
        raise ConfigError(name, f"invalid TOML: {error}") from None
    result: dict[str, dict[str, object]] = {}
    for section, table in document.items():
        if section not in _SCHEMA:
            if not isinstance(table, dict):
                raise ConfigError(section, "settings belong in a section such as [organisation] or [imap]")
            raise ConfigError(section, f"unknown section{_suggest(section, _SCHEMA)}")
        if not isinstance(table, dict):
            raise ConfigError(section, f"must be a section [{section}] (got {_type_name(table)})")
        for key in table:
            if key not in _SCHEMA[section]:
                raise ConfigError(f"{section}.{key}", f"unknown key{_suggest(key, _SCHEMA[section])}")
        result[section] = table
    return result


def _env_overrides(env: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """``MAILBOT_SECTION__KEY`` variables; other ``MAILBOT_*`` names (CONFIG, MASTER_KEY) are not keys."""
    found = []
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in _SCHEMA:
            raise ConfigError(name, f"unknown section {section!r}{_suggest(section, _SCHEMA)}")
        if key not in _SCHEMA[section]:
            suggestion = _suggest(key, _SCHEMA[section])
            raise ConfigError(f"{section}.{key}", f"unknown key{suggestion} (from {name})")
        found.append((section, key, name, value))
    return sorted(found)


def _suggest(word: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f'; did you mean "{close[0]}"?' if close else f" (known: {', '.join(known)})"


def _convert_section(section: str, given: Mapping[str, tuple[object, str | None]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, spec in _SCHEMA[section].items():
        if key in given:
            value, source = given[key]
            try:
                result[key] = spec.convert(value, source is not None)
            except _Invalid as error:
                suffix = f" (from {source})" if source else ""
                raise ConfigError(f"{section}.{key}", f"{error}{suffix}") from None
        elif spec.default is None:
            result[key] = None
        else:
            result[key] = spec.convert(spec.default, False)
    return result


def _build(
    values: dict[str, dict[str, Any]], base: Path, master_key: str | None, config_file: Path | None
) -> Settings:
    organisation = OrganisationSettings(**values["organisation"])
    staff_raw = values["staff"]
    if organisation.mailbox.lower() in (a.lower() for a in staff_raw["addresses"]):
        raise ConfigError(
            "staff.addresses",
            f"must not contain the mailbox mailbot reads ({organisation.mailbox}): staff notices "
            "would come back as new mail; give head office's own addresses",
        )
    storage = _storage(values["storage"], base)
    return Settings(
        organisation=organisation,
        storage=storage,
        imap=_imap(values["imap"], base),
        smtp=_smtp(values["smtp"], base, organisation),
        listener=_listener(values["listener"]),
        staff=StaffSettings(
            addresses=staff_raw["addresses"],
            escalation_address=staff_raw["escalation_address"] or staff_raw["addresses"][0],
            digest_time=staff_raw["digest_time"],
        ),
        processing=ProcessingSettings(**values["processing"]),
        deadlines=_deadlines(values["deadlines"]),
        rules=PathSettings(dir=_absolute(Path(values["rules"]["dir"]).expanduser(), base)),
        templates=PathSettings(dir=_absolute(Path(values["templates"]["dir"]).expanduser(), base)),
        identity=_identity(values["identity"]),
        backup=_backup(values["backup"], base, storage),
        model=ModelSettings(
            file=(
                _absolute(Path(values["model"]["file"]).expanduser(), base)
                if values["model"]["file"]
                else storage.dir / "text-model.npz"
            ),
            corpus=tuple(_absolute(Path(p).expanduser(), base) for p in values["model"]["corpus"]),
            enabled=values["model"]["enabled"],
        ),
        privacy=PrivacySettings(
            recipients=tuple(r.strip() for r in values["privacy"]["recipients"] if r.strip()),
            retention=values["privacy"]["retention"],
            erasure_ledger=(
                _absolute(Path(values["privacy"]["erasure_ledger"]).expanduser(), base)
                if values["privacy"]["erasure_ledger"]
                else storage.key_file.parent / "erasure-ledger.jsonl"  # erasure_ledger.LEDGER_FILE
            ),
            ticket_retention=TicketRetention(
                values["privacy"]["complaint_retention_months"], values["privacy"]["ticket_retention_months"]
            ),
        ),
        web=_web(values["web"]),
        master_key=master_key,
        config_file=config_file,
    )


def _web(raw: Mapping[str, Any]) -> WebSettings:
    base_url = (raw["base_url"] or f"http://{raw['host']}:{raw['port']}").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("web.base_url", f"{base_url!r} is not an http(s) address")
    return WebSettings(**{**raw, "base_url": base_url})


def _listener(raw: Mapping[str, Any]) -> ListenerSettings:
    listener = ListenerSettings(**raw)
    if listener.enabled and not _is_loopback(listener.host) and not listener.private_network:
        raise ConfigError(
            "listener.host",
            f"{listener.host!r} is beyond loopback, and the listener accepts mail without "
            "authentication; bind it to 127.0.0.1, or set listener.private_network = true if only "
            "your own border MTA on a private network can reach it",
        )
    return listener


def _backup(raw: Mapping[str, Any], base: Path, storage: StorageSettings) -> BackupSettings:
    keys = storage.key_file.parent

    def where(value: Path | None, default: Path) -> Path:
        return _absolute(Path(value).expanduser(), base) if value else default

    backups = where(raw["dir"], storage.dir / "backups")
    return BackupSettings(
        dir=backups,
        key_file=where(raw["key_file"], keys / "backup.key"),
        restic_repository=raw["restic_repository"] or str(backups / "restic"),
        restic_password_file=where(raw["restic_password_file"], keys / "restic.password"),
        keep_daily=raw["keep_daily"],
        keep_weekly=raw["keep_weekly"],
        daily_at=raw["daily_at"],
    )


def _identity(raw: Mapping[str, Any]) -> IdentitySettings:
    if raw["trust_dmarc"] and not raw["authserv_id"]:
        raise ConfigError(
            "identity.authserv_id",
            "required when identity.trust_dmarc is on: the authserv-id your border mail server "
            "writes in Authentication-Results (other servers' headers can be forged)",
        )
    return IdentitySettings(trust_dmarc=raw["trust_dmarc"], authserv_id=raw["authserv_id"])


def _storage(raw: Mapping[str, Any], base: Path) -> StorageSettings:
    """Database and key file default to places inside the data dir, so one directory is one install."""
    storage_dir = _absolute(Path(raw["dir"]).expanduser(), base)
    key_file = raw["key_file"]
    return StorageSettings(
        dir=storage_dir,
        database_url=raw["database_url"] or f"sqlite:///{storage_dir / 'mailbot.db'}",
        key_file=(
            _absolute(Path(key_file).expanduser(), base) if key_file else storage_dir / "keys" / "master.key"
        ),
    )


def _imap(raw: Mapping[str, Any], base: Path) -> ImapSettings:
    password, password_file = _password("imap", raw, base)
    imap = ImapSettings(
        host=raw["host"],
        port=raw["port"] or _IMAP_PORTS[raw["security"]],
        security=raw["security"],
        username=raw["username"],
        password=password,
        password_file=password_file,
        folder=raw["folder"],
        processed_folder=raw["processed_folder"],
        after=raw["after"],
        poll_seconds=raw["poll_seconds"],
        idle=raw["idle"],
        batch_size=raw["batch_size"],
        timeout_seconds=raw["timeout_seconds"],
    )
    if imap.enabled:
        # Refuse at start-up what would otherwise fail at the first poll, hours later, at night.
        _require_encryption("imap", imap.host, imap.security)
        if imap.username is None:
            raise ConfigError("imap.username", "required when imap.host is set")
        if imap.password is None:
            raise ConfigError("imap.password", "required when imap.host is set (or set password_file)")
    if imap.after is AfterFetch.MOVE and imap.processed_folder == imap.folder:
        raise ConfigError("imap.processed_folder", 'must differ from imap.folder when after = "move"')
    return imap


def _smtp(raw: Mapping[str, Any], base: Path, organisation: OrganisationSettings) -> SmtpSettings:
    password, password_file = _password("smtp", raw, base)
    smtp = SmtpSettings(
        host=raw["host"],
        port=raw["port"] or _SMTP_PORTS[raw["security"]],
        security=raw["security"],
        username=raw["username"],
        password=password,
        password_file=password_file,
        timeout_seconds=raw["timeout_seconds"],
        retry_horizon_hours=raw["retry_horizon_hours"],
        from_address=raw["from_address"] or organisation.mailbox,
    )
    if smtp.enabled:
        _require_encryption("smtp", smtp.host, smtp.security)
    # A local relay may accept mail without login, so credentials are optional, but only in pairs.
    if smtp.username is not None and smtp.password is None:
        raise ConfigError("smtp.password", "required when smtp.username is set (or set password_file)")
    if smtp.password is not None and smtp.username is None:
        raise ConfigError("smtp.username", "required when a password is set")
    return smtp


def _deadlines(raw: Mapping[str, Any]) -> DeadlineSettings:
    deadlines = DeadlineSettings(**raw)
    if deadlines.business_day_end <= deadlines.business_day_start:
        raise ConfigError(
            "deadlines.business_day_end",
            f"must be later than business_day_start ({deadlines.business_day_start:%H:%M})",
        )
    for key in (
        "reminder_hours_before",
        "escalation_hours_after",
        "legal_reminder_days_before",
        "legal_escalation_days_after",
    ):
        values = getattr(deadlines, key)
        if len(set(values)) != len(values):
            raise ConfigError(f"deadlines.{key}", "must not repeat a value (each step is sent once)")
    return deadlines


def _password(section: str, raw: Mapping[str, Any], base: Path) -> tuple[str | None, Path | None]:
    """The secret from ``password`` or ``password_file`` (never both: which one wins would be a guess)."""
    password: str | None = raw["password"]
    if raw["password_file"] is None:
        return password, None
    if password is not None:
        raise ConfigError(f"{section}.password_file", "set either password or password_file, not both")
    secret_file = _absolute(Path(raw["password_file"]).expanduser(), base)
    try:
        text = secret_file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"{section}.password_file", f"cannot read {secret_file}: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{section}.password_file", f"{secret_file} is not UTF-8 text") from None
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise ConfigError(f"{section}.password_file", f"{secret_file} is empty")
    return secret, secret_file


def _require_encryption(section: str, host: str | None, security: Security) -> None:
    """R-C20: an unencrypted connection is only acceptable when it never leaves the machine."""
    if security is Security.PLAIN and host is not None and not _is_loopback(host):
        raise ConfigError(
            f"{section}.security",
            f'"plain" is only allowed to a loopback host (127.0.0.0/8, ::1, localhost), '
            f"not {_shown(host)}; use tls or starttls (R-C20)",
        )


def _is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc[2]}"))
