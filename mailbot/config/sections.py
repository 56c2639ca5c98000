"""Every setting, declared once: its section, name, kind and embedded default.

Each ``[section]`` of the TOML file is one frozen pydantic model; ``Settings`` (a pydantic-settings
``BaseSettings``) holds them. A field's kind (from :mod:`mailbot.config.values`) is its check; its
default is what runs with no file at all. A few defaults are derived from other keys (ports from
``security``, paths from ``storage.dir``, ``smtp.from_address`` from the mailbox); the loader fills
those in when the key was not given (``model_fields_set``), so an explicit value always wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mailbot import defaults
from mailbot.config.values import (
    Address,
    Addresses,
    ClockTime,
    ConfigPath,
    Count,
    Counts,
    DatabaseUrl,
    Dates,
    Domain,
    Flag,
    FormSenders,
    OptionalPath,
    OptionalText,
    Paths,
    Port,
    Positive,
    PositiveCounts,
    RetentionDuties,
    Secret,
    Text,
    Texts,
    TicketPrefix,
    TimeZoneName,
    choice,
)
from mailbot.domain.retention import TicketRetention


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


class PromiseMode(StrEnum):
    """How the acknowledgement counts the first-answer hours it promises (issue 17): over working
    days only (a promise never lands on a Sunday or public holiday), clock hours like the
    internal ladder, or office hours."""

    WORKING_DAYS = "working_days"
    CALENDAR = "calendar"
    BUSINESS = "business"


class Section(BaseModel):
    """One ``[section]``: frozen (settings do not change under a running service), no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class OrganisationSettings(Section):
    name: Text = "Ordevos"
    mailbox: Address = "info@ordevos.nl"
    domain: Domain = "ordevos.nl"
    ticket_prefix: TicketPrefix = "ORD"
    timezone: TimeZoneName = "Europe/Amsterdam"
    #: Senders whose mail carries a person's words typed into a form (mailbot.domain.forms).
    form_senders: FormSenders = ()

    @property
    def zone(self) -> ZoneInfo:
        """The zone deadlines are computed in (R-A1: receipt is read in Europe/Amsterdam)."""
        return ZoneInfo(self.timezone)


class StorageSettings(Section):
    dir: ConfigPath = Path("storage")
    #: Derived: ``sqlite:///<dir>/mailbot.db``.
    database_url: DatabaseUrl = "sqlite:///storage/mailbot.db"
    #: Derived: ``<dir>/keys/master.key``.
    key_file: ConfigPath = Path("storage/keys/master.key")

    @property
    def inbox_dir(self) -> Path:
        """Maildir the embedded SMTP listener delivers into, and the source when IMAP is off."""
        return self.dir / "inbox"

    @property
    def sent_dir(self) -> Path:
        """Maildir outgoing mail is written to when no SMTP host is configured."""
        return self.dir / "sent"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A PostgreSQL URL may carry a password; show where the database is, never the secret.
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "database_url" else value


class ImapSettings(Section):
    host: OptionalText = None
    #: Derived from ``security`` (993 for tls, 143 otherwise).
    port: Port = 993
    security: Annotated[Security, choice(Security)] = Security.TLS
    username: OptionalText = None
    password: Secret = None
    password_file: OptionalPath = None
    folder: Text = "INBOX"
    processed_folder: Text = "Processed"
    after: Annotated[AfterFetch, choice(AfterFetch)] = AfterFetch.MOVE
    poll_seconds: Positive = 60
    idle: Flag = True
    batch_size: Positive = 200
    timeout_seconds: Positive = 60

    @property
    def enabled(self) -> bool:
        """No host means the embedded Maildir inbox is the source."""
        return self.host is not None


class SmtpSettings(Section):
    host: OptionalText = None
    #: Derived from ``security`` (465 for tls, 587 for starttls, 25 for plain).
    port: Port = 465
    security: Annotated[Security, choice(Security)] = Security.TLS
    username: OptionalText = None
    password: Secret = None
    password_file: OptionalPath = None
    timeout_seconds: Positive = 30
    retry_horizon_hours: Positive = 48
    #: The first retry after a temporary failure; each next one waits twice as long (to an hour).
    retry_first_seconds: Positive = 60
    #: Derived: ``organisation.mailbox``.
    from_address: Address = "info@ordevos.nl"

    @property
    def enabled(self) -> bool:
        """No host means outgoing mail is written to the ``sent`` Maildir instead."""
        return self.host is not None


class ListenerSettings(Section):
    enabled: Flag = True
    host: Text = "127.0.0.1"
    port: Port = 8025
    #: The listener has no authentication: beyond loopback only when the operator says a border
    #: MTA on a private network is the only thing that can reach it.
    private_network: Flag = False


class StaffSettings(Section):
    # Head office, not the mailbox mailbot reads: staff notices must never come back as mail.
    addresses: Addresses = ("hoofdkantoor@ordevos.nl",)
    #: Derived: the first of ``addresses``.
    escalation_address: Address = "hoofdkantoor@ordevos.nl"
    digest_time: ClockTime = time(8, 0)


class ProcessingSettings(Section):
    max_attempts: Positive = 3
    auto_reply_cap_per_day: Count = 3
    #: Larger mail is quarantined at intake with only its first 64 KB read (the source keeps the
    #: whole message); the embedded listener refuses it with 552. 25 MiB: the common provider limit.
    max_message_bytes: Positive = 25 * 1024 * 1024


class DeadlineSettings(Section):
    first_response_hours: Positive = 48
    hours_mode: Annotated[HoursMode, choice(HoursMode)] = HoursMode.CALENDAR
    #: What the letter promises; the ladder above keeps ``hours_mode`` (earlier, stricter).
    promise_mode: Annotated[PromiseMode, choice(PromiseMode)] = PromiseMode.WORKING_DAYS
    business_day_start: ClockTime = time(9, 0)
    business_day_end: ClockTime = time(17, 0)
    internal_target_working_days: Positive = 20
    complaint_resolution_weeks: Positive = 4
    extra_holidays: Dates = ()
    # The reminder/escalation ladder (issue 5): reminders before a due time, escalations at (0)
    # and after the breach, for the 48-hour first answer and for the GDPR legal term.
    reminder_hours_before: PositiveCounts = (24, 6)
    escalation_hours_after: Counts = (0, 24)
    legal_reminder_days_before: PositiveCounts = (7, 2)
    legal_escalation_days_after: Counts = (0, 1)


class RulesSettings(Section):
    """The classification rules: the installed ones unless the company points at its own copy."""

    dir: ConfigPath = defaults.RULES


class TemplateSettings(Section):
    """The letters: the installed ones unless the company points at its own copy."""

    dir: ConfigPath = defaults.TEMPLATES


#: Either directory of company-edited data (kept for callers that only need ``.dir``).
PathSettings = RulesSettings | TemplateSettings


class ModelSettings(Section):
    """The trained text model (issue 14): rules read structure, the model reads the words.

    Built by ``mailbot model train`` (and ``mailbot init``) from the labelled sets under ``corpus``;
    with no model file, or ``enabled = false``, the rules classify alone."""

    enabled: Flag = True
    #: Derived: ``<storage.dir>/text-model.npz``.
    file: ConfigPath = Path("storage/text-model.npz")
    corpus: Paths = (Path("corpus"),)


class IdentitySettings(Section):
    """Trust our own border server's DMARC verdict for a request from the address on file; only
    Authentication-Results headers with this authserv-id count (R-C14)."""

    trust_dmarc: Flag = False
    authserv_id: OptionalText = None


class PrivacySettings(Section):
    """Who else holds the data, and what a legal duty keeps of an erased person.

    After a rectification, erasure or restriction each recipient (processors: hosting, mail
    provider, newsletter tool) gets a task until staff mark it done (R-A13). Legal retention duties
    (``[[privacy.retention]]``: name, fields, years, basis, applies_to) keep those fields of an
    erased person under a retention key of their own (R-A12)."""

    recipients: Texts = ()
    retention: RetentionDuties = ()
    #: The erasure ledger (keyed hashes only), beside the keys and apart from the database (R-D10).
    #: Derived: ``erasure-ledger.jsonl`` beside ``storage.key_file``.
    erasure_ledger: ConfigPath = Path("storage/keys/erasure-ledger.jsonl")
    #: How long closed tickets keep their correspondence before the daily purge (issue 16).
    complaint_retention_months: Positive = 12
    ticket_retention_months: Positive = 24

    @property
    def ticket_retention(self) -> TicketRetention:
        return TicketRetention(self.complaint_retention_months, self.ticket_retention_months)


class BackupSettings(Section):
    """Daily encrypted backups (issue 16). The keys default to the master key's directory (apart
    from the database), the restic repository to a local one (set any restic back end for off-site)."""

    #: Derived: ``<storage.dir>/backups``.
    dir: ConfigPath = Path("storage/backups")
    #: Derived: ``backup.key`` beside the master key.
    key_file: ConfigPath = Path("storage/keys/backup.key")
    #: Derived: ``<backup.dir>/restic``.
    restic_repository: Text = "storage/backups/restic"
    #: Derived: ``restic.password`` beside the master key.
    restic_password_file: ConfigPath = Path("storage/keys/restic.password")
    keep_daily: Positive = 7
    keep_weekly: Count = 4
    daily_at: ClockTime = time(2, 30)


class WebSettings(Section):
    """The staff web interface (issue 18), ``mailbot web``: plain HTTP on loopback by default,
    behind a TLS reverse proxy in production."""

    enabled: Flag = False
    host: Text = "127.0.0.1"
    port: Port = 8080
    #: Where staff reach it (for enrolment links), e.g. https://mailbot.example.nl.
    #: Derived: ``http://<host>:<port>``.
    base_url: Text = "http://127.0.0.1:8080"
    #: Cookies only over HTTPS; off only for plain-HTTP tests on loopback.
    secure_cookies: Flag = True
    #: The privacy statement promises periodic password change.
    password_max_age_days: Count = 365


class Settings(BaseSettings):
    """The whole configuration: embedded default < TOML file < ``MAILBOT_SECTION__KEY`` variable.

    Built only by :func:`mailbot.config.load_settings`, which passes the file and the environment
    in (nothing is read at import) and fills in the derived defaults."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    organisation: OrganisationSettings = Field(default_factory=OrganisationSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    imap: ImapSettings = Field(default_factory=ImapSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    listener: ListenerSettings = Field(default_factory=ListenerSettings)
    staff: StaffSettings = Field(default_factory=StaffSettings)
    processing: ProcessingSettings = Field(default_factory=ProcessingSettings)
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    templates: TemplateSettings = Field(default_factory=TemplateSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    # Not settings of the file: where they came from, and the key from MAILBOT_MASTER_KEY.
    _master_key: str | None = PrivateAttr(default=None)
    _config_file: Path | None = PrivateAttr(default=None)

    @property
    def master_key(self) -> str | None:
        """The key-encryption key from ``MAILBOT_MASTER_KEY``, if given; otherwise ``storage.key_file``."""
        return self._master_key

    @property
    def config_file(self) -> Path | None:
        """The file the settings came from (None: defaults and environment only), for start-up logs."""
        return self._config_file


SECTIONS: dict[str, type[Section]] = {
    name: field.default_factory  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
}


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc[2]}"))
