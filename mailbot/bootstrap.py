"""Composition root: the one place that knows both the adapters and the services.

Nothing here runs at import time; ``build_app`` is called by the CLI (and by tests with their own
settings, clock and servers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from mailbot.adapters.crypto import Keyring, key_material_from_secret, load_or_create_key_file
from mailbot.adapters.db.engine import make_engine, make_session_factory
from mailbot.adapters.db.migrate import upgrade
from mailbot.adapters.db.store import Database
from mailbot.adapters.db.vault import Vault
from mailbot.config import Settings
from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import DeadlinePolicy, compute_deadlines
from mailbot.domain.model import Category, Organisation
from mailbot.services.ports import Clock, Source
from mailbot.services.process import Processor

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def organisation_of(settings: Settings) -> Organisation:
    o = settings.organisation
    own = tuple(
        dict.fromkeys(
            [
                o.mailbox.lower(),
                settings.smtp.from_address.lower(),
                *(a.lower() for a in settings.staff.addresses),
            ]
        )
    )
    return Organisation(
        name=o.name,
        mailbox=o.mailbox,
        domain=o.domain,
        ticket_prefix=o.ticket_prefix,
        timezone=o.timezone,
        own_addresses=own,
    )


def keyring_of(settings: Settings) -> Keyring:
    """The master key from MAILBOT_MASTER_KEY, else from the key file (created on first run)."""
    if settings.master_key:
        return Keyring(key_material_from_secret(settings.master_key))
    material, created = load_or_create_key_file(settings.storage.key_file)
    if created:
        log.warning(
            "created a new master key file; back it up apart from the database: without it nothing "
            "stored can be decrypted",
            extra={"key_file": str(settings.storage.key_file)},
        )
    return Keyring(material)


def work_calendar_of(settings: Settings) -> WorkCalendar:
    return WorkCalendar(
        extra_holidays=frozenset(settings.deadlines.extra_holidays), zone=settings.organisation.timezone
    )


def deadline_policy_of(settings: Settings) -> DeadlinePolicy:
    d = settings.deadlines
    return DeadlinePolicy(
        first_response_hours=d.first_response_hours,
        hours_mode=d.hours_mode.value,
        day_start=d.business_day_start,
        day_end=d.business_day_end,
        internal_target_working_days=d.internal_target_working_days,
        complaint_resolution_weeks=d.complaint_resolution_weeks,
    )


def ladder_of(settings: Settings) -> dict[str, tuple[Any, ...]]:
    """The reminder/escalation ladder from configuration (issue 5), in the domain's step form."""
    from datetime import timedelta

    from mailbot.domain.ladder import make_steps, validate_ladder

    d = settings.deadlines
    ladder = {
        "first_response": make_steps(
            "first_response",
            [timedelta(hours=h) for h in d.reminder_hours_before],
            [timedelta(hours=h) for h in d.escalation_hours_after],
        ),
        "legal": make_steps(
            "legal",
            [timedelta(days=n) for n in d.legal_reminder_days_before],
            [timedelta(days=n) for n in d.legal_escalation_days_after],
        ),
    }
    validate_ladder(ladder)
    return ladder


def deadline_calculator(settings: Settings) -> Callable[[Category, datetime], dict[str, datetime | None]]:
    calendar = work_calendar_of(settings)
    policy = deadline_policy_of(settings)

    def calculate(category: Category, received_at: datetime) -> dict[str, datetime | None]:
        due = compute_deadlines(category, received_at, policy, calendar)
        return {
            "first_response_due": due.first_response_due,
            "legal_due": due.legal_due,
            "legal_due_unpaused": due.legal_due_unpaused,
            "internal_due": due.internal_due,
            "resolution_due": due.resolution_due,
        }

    return calculate


def imap_source_of(settings: Settings) -> Any:
    from mailbot.adapters.imap import ImapSource

    imap = settings.imap
    assert imap.host is not None
    return ImapSource(
        host=imap.host,
        port=imap.port,
        security=imap.security.value,
        username=imap.username or "",
        password=imap.password or "",
        folder=imap.folder,
        processed_folder=imap.processed_folder,
        after=imap.after.value,
        batch_size=imap.batch_size,
        timeout=imap.timeout_seconds,
    )


def mailer_of(settings: Settings) -> Any:
    """SMTP relay when configured, else the embedded Maildir ``storage/sent`` (readable by a newcomer)."""
    if settings.smtp.enabled:
        from mailbot.adapters.smtp_sender import SmtpMailer

        assert settings.smtp.host is not None
        return SmtpMailer(
            settings.smtp.host,
            settings.smtp.port,
            settings.smtp.security.value,
            settings.smtp.username,
            settings.smtp.password,
            settings.smtp.timeout_seconds,
        )
    from mailbot.adapters.maildir_sender import MaildirMailer

    return MaildirMailer(settings.storage.sent_dir)


def outbox_policy(settings: Settings, org: Organisation) -> Any:
    from datetime import timedelta

    from mailbot.services.outbox import OutboxPolicy

    return OutboxPolicy(
        org=org,
        from_address=settings.smtp.from_address,
        staff_addresses=tuple(settings.staff.addresses),
        auto_reply_cap_per_day=settings.processing.auto_reply_cap_per_day,
        retry_horizon=timedelta(hours=settings.smtp.retry_horizon_hours),
    )


def content_classifier(settings: Settings, org: Organisation) -> Callable[[Any], Any]:
    from mailbot.adapters.rules_loader import load_ruleset
    from mailbot.domain.rules import classify_content

    ruleset = load_ruleset(settings.rules.dir)
    return lambda parsed: classify_content(parsed, ruleset, org)


@dataclass
class App:
    settings: Settings
    engine: Engine
    database: Database
    clock: Clock
    org: Organisation
    processor: Processor
    extras: dict[str, Any] = field(default_factory=dict)

    def source(self) -> Source:
        s = self.settings
        if s.imap.enabled:
            return imap_source_of(s)
        from mailbot.adapters.maildir import MaildirSource

        return MaildirSource(s.storage.inbox_dir, batch_size=s.imap.batch_size)

    def jobs(self) -> dict[str, tuple[Callable[[], Any], dict[str, Any]]]:
        """Periodic jobs for the scheduler; later stages add theirs through ``extras["jobs"]``."""
        return dict(self.extras.get("jobs", {}))

    def close(self) -> None:
        self.engine.dispose()


def build_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    migrate: bool = True,
    classifier: Callable[[Any], Any] | None = None,
    mailer: Any = None,
) -> App:
    org = organisation_of(settings)
    # The rules first: a broken rules file must stop start-up before anything is created.
    classify = classifier or content_classifier(settings, org)
    keyring = keyring_of(settings)
    engine = make_engine(settings.storage.database_url)
    if migrate:
        upgrade(engine)
    database = Database(make_session_factory(engine), Vault(keyring))
    processor = Processor(
        org=org,
        classify=classify,
        deadlines=deadline_calculator(settings),
        max_attempts=settings.processing.max_attempts,
    )
    app = App(settings=settings, engine=engine, database=database, clock=clock, org=org, processor=processor)
    _wire_outbox(app, mailer or mailer_of(settings))
    _wire_deadlines(app)
    return app


def _wire_outbox(app: App, mailer: Any) -> None:
    """Acknowledgements are queued inside processing; the drain runs in fetch, send and the scheduler."""
    from mailbot.adapters.templates import TemplateRenderer
    from mailbot.services.outbox import acknowledgement_hook, drain

    renderer = TemplateRenderer(app.settings.templates.dir, app.org.timezone)
    policy = outbox_policy(app.settings, app.org)
    app.processor.on_ticket_opened.append(acknowledgement_hook(renderer, policy))

    def drain_outbox() -> int:
        return drain(app.database, mailer, app.clock, policy).sent

    app.extras.update(renderer=renderer, outbox_policy=policy, mailer=mailer, drain_outbox=drain_outbox)
    app.extras.setdefault("jobs", {})["send"] = (drain_outbox, {"trigger": "interval", "seconds": 10})


def _wire_deadlines(app: App) -> None:
    """Issue 5: the deadline sweep (every minute) and the daily digest, each behind a DB lease so
    that of several ``mailbot run`` sharing a database only one runs them; the unique step keys
    and the digest's per-day dedupe key still hold if two ever overlap."""
    from datetime import timedelta

    from mailbot.services import deadlines, digest, leases
    from mailbot.services.outbox import drain

    s = app.settings
    calendar = work_calendar_of(s)
    deadline_policy = deadline_policy_of(s)
    renderer, policy, mailer = app.extras["renderer"], app.extras["outbox_policy"], app.extras["mailer"]
    notifier = deadlines.DeadlineNotifier(renderer, policy, s.staff.escalation_address, ladder=ladder_of(s))
    holder = leases.new_holder()

    def has_lease(name: str, ttl: timedelta) -> bool:
        with app.database.transaction() as store:
            return leases.acquire(store, name, holder, app.clock(), ttl)

    def run_deadlines() -> deadlines.SweepReport:
        return deadlines.sweep(app.database, app.clock(), notifier)

    def run_digest(send_when_empty: bool = False, once_per_day: bool = False) -> str | None:
        with app.database.transaction() as store:
            row = digest.queue_digest(
                store,
                renderer,
                policy,
                app.clock(),
                send_when_empty=send_when_empty,
                once_per_day=once_per_day,
            )
            queued = row.id if row is not None else None
        if queued is not None:
            drain(app.database, mailer, app.clock, policy)
        return queued

    def deadlines_job() -> None:
        if has_lease("deadlines", timedelta(minutes=5)):
            run_deadlines()

    def digest_job() -> None:
        if has_lease("digest", timedelta(minutes=30)):
            run_digest(once_per_day=True)

    app.extras.update(
        work_calendar=calendar,
        deadline_policy=deadline_policy,
        deadline_notifier=notifier,
        run_deadlines=run_deadlines,
        run_digest=run_digest,
        lease_holder=holder,
    )
    jobs = app.extras.setdefault("jobs", {})
    jobs["deadlines"] = (deadlines_job, {"trigger": "interval", "seconds": 60})
    jobs["digest"] = (
        digest_job,
        {
            "trigger": "cron",
            "hour": s.staff.digest_time.hour,
            "minute": s.staff.digest_time.minute,
            "timezone": app.org.timezone,
        },
    )
