"""Composition root: the one place that knows both the adapters and the services.

Nothing here runs at import time; ``build_app`` is called by the CLI (and by tests with their own
settings, clock and servers).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from mailbot.adapters.access_package import ZipPackageWriter
from mailbot.adapters.crypto import Keyring, key_material_from_secret, load_or_create_key_file
from mailbot.adapters.db.engine import make_engine, make_session_factory
from mailbot.adapters.db.migrate import upgrade
from mailbot.adapters.db.repos.uow import SqlDatabase
from mailbot.adapters.db.vault import Vault
from mailbot.adapters.erasure_ledger import LEDGER_FILE, FileErasureLedger
from mailbot.adapters.templates import TemplateRenderer
from mailbot.config import Settings
from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.classifier import Classifier
from mailbot.domain.deadlines import DeadlinePolicy
from mailbot.domain.identity import IdentityPolicy
from mailbot.domain.model import Organisation, Ticket
from mailbot.domain.staff_mail import ReplyAddresses
from mailbot.policies import (
    deadline_calculator,
    deadline_policy_of,
    ladder_of,
    organisation_of,
    response_promise_of,
    work_calendar_of,
)
from mailbot.services import leases
from mailbot.services.access_request import access_fulfiller
from mailbot.services.deadlines import DeadlineNotifier
from mailbot.services.erasure import ErasurePolicy, ticket_eraser
from mailbot.services.fulfil import fulfil_request
from mailbot.services.identity import IdentityDesk, on_challenge_answered
from mailbot.services.identity import on_ticket_opened as identity_on_ticket_opened
from mailbot.services.outbox import OutboxPolicy, acknowledgement_hook
from mailbot.services.ports import Clock, Mailer, Source
from mailbot.services.privacy_actions import AuditActions, CustomerActions, ErasureActions
from mailbot.services.process import Processor
from mailbot.services.repositories import UnitOfWork
from mailbot.services.restriction import suppression_hook
from mailbot.services.rights_actions import RightsActions
from mailbot.services.staff import StaffDesk
from mailbot.services.staff_accounts import StaffAccounts
from mailbot.services.staff_commands import GdprDesk
from mailbot.services.staff_hooks import follow_up_notice, new_ticket_notice, staff_reply_handler
from mailbot.services.ticket_views import TicketViews
from mailbot.services.usecases import DeadlineActions, OutboxActions, StaffActions, TicketActions

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


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


def imap_source_of(settings: Settings) -> Source:
    from mailbot.adapters.imap import ImapSource

    imap = settings.imap
    assert imap.host is not None
    return ImapSource(
        host=imap.host,
        port=imap.port,
        security=imap.security.value,
        username=imap.username or "",
        password=imap.password.get_secret_value() if imap.password else "",
        folder=imap.folder,
        processed_folder=imap.processed_folder,
        after=imap.after.value,
        batch_size=imap.batch_size,
        timeout=imap.timeout_seconds,
        max_message_bytes=settings.processing.max_message_bytes,
    )


def mailer_of(settings: Settings) -> Mailer:
    """SMTP relay when configured, else the embedded Maildir ``storage/sent`` (readable by a newcomer)."""
    if settings.smtp.enabled:
        from mailbot.adapters.smtp_sender import SmtpMailer

        assert settings.smtp.host is not None
        return SmtpMailer(
            settings.smtp.host,
            settings.smtp.port,
            settings.smtp.security.value,
            settings.smtp.username,
            settings.smtp.password.get_secret_value() if settings.smtp.password else None,
            settings.smtp.timeout_seconds,
        )
    from mailbot.adapters.maildir_sender import MaildirMailer

    return MaildirMailer(settings.storage.sent_dir)


def outbox_policy(settings: Settings, org: Organisation) -> OutboxPolicy:
    return OutboxPolicy(
        org=org,
        from_address=settings.smtp.from_address,
        staff_addresses=tuple(settings.staff.addresses),
        auto_reply_cap_per_day=settings.processing.auto_reply_cap_per_day,
        retry_horizon=timedelta(hours=settings.smtp.retry_horizon_hours),
        retry_first=timedelta(seconds=settings.smtp.retry_first_seconds),
        promise=response_promise_of(settings),
    )


def rules_classifier(settings: Settings, org: Organisation) -> Classifier:
    """The configured classifier: the rules with the text model when there is one (issue 14)."""
    from mailbot.adapters.classifiers import classifier_for
    from mailbot.adapters.rules_loader import load_ruleset

    model = settings.model
    model_file = model.file if model is not None and model.enabled else None
    return classifier_for(load_ruleset(settings.rules.dir), org, model_file)


#: A periodic job: the callable and its APScheduler trigger arguments.
Job = tuple[Callable[[], Any], dict[str, Any]]


@dataclass
class App:
    """Everything wired once: the use cases (``outbox``, ``tickets``, ``deadlines``), intake
    (``processor``, ``source()``) and the database for read-only views."""

    settings: Settings
    engine: Engine
    database: SqlDatabase
    clock: Clock
    org: Organisation
    processor: Processor
    renderer: TemplateRenderer
    outbox_policy: OutboxPolicy
    mailer: Mailer
    work_calendar: WorkCalendar
    deadline_policy: DeadlinePolicy
    outbox: OutboxActions
    tickets: TicketActions
    staff: StaffActions
    deadlines: DeadlineActions
    audit: AuditActions
    customers: CustomerActions
    rights: RightsActions
    erasure: ErasureActions
    accounts: StaffAccounts
    views: TicketViews

    def source(self) -> Source:
        s = self.settings
        if s.imap.enabled:
            return imap_source_of(s)
        from mailbot.adapters.maildir import MaildirSource

        limit = s.processing.max_message_bytes
        return MaildirSource(s.storage.inbox_dir, batch_size=s.imap.batch_size, max_message_bytes=limit)

    def drain_outbox(self) -> int:
        return self.outbox.drain().sent

    def jobs(self) -> dict[str, Job]:
        """Periodic jobs for the scheduler: send every 10 s, the deadline sweep every minute, the
        digest daily at the configured time (the last two behind a lease)."""
        digest_at = self.settings.staff.digest_time
        backup_at = self.settings.backup.daily_at if self.settings.backup else None
        backup_job: dict[str, Job] = (
            {
                "backup": (
                    self.backup_job,
                    {
                        "trigger": "cron",
                        "hour": backup_at.hour,
                        "minute": backup_at.minute,
                        "timezone": self.org.timezone,
                    },
                )
            }
            if backup_at
            else {}
        )
        return {
            **backup_job,
            "send": (self.drain_outbox, {"trigger": "interval", "seconds": 10}),
            "deadlines": (self.deadlines.sweep_job, {"trigger": "interval", "seconds": 60}),
            # Retained data whose legal term ended, and sent erasure reports, are destroyed daily.
            "retention": (
                self.erasure.purge_job,
                {"trigger": "cron", "hour": 3, "minute": 15, "timezone": self.org.timezone},
            ),
            "digest": (
                self.deadlines.digest_job,
                {
                    "trigger": "cron",
                    "hour": digest_at.hour,
                    "minute": digest_at.minute,
                    "timezone": self.org.timezone,
                },
            ),
        }

    def backup_now(self, *, offsite: bool = True) -> Any:
        """Snapshot, seal and (with ``offsite``) copy to restic; audited either way, and a failure
        is escalated to staff — a backup nobody hears has failed is no backup (issue 16)."""
        from mailbot.adapters import backup

        settings = self.settings.backup
        assert settings is not None
        now = self.clock()
        try:
            key = backup.load_or_create_backup_key(settings.key_file)
            manifest = backup.create(self.settings.storage.database_url, settings.dir, key, now)
            ledger = self.settings.privacy.erasure_ledger
            if ledger is not None and ledger.exists():  # carried along, so a restore elsewhere has it
                shutil.copyfile(ledger, manifest.folder / LEDGER_FILE)
            if offsite and settings.restic_repository:
                backup.offsite(
                    manifest.folder,
                    settings.restic_repository,
                    settings.restic_password_file,
                    settings.keep_daily,
                    settings.keep_weekly,
                )
        except (backup.BackupError, OSError) as exc:
            from mailbot.errors import plain_reason

            reason = str(exc) if isinstance(exc, backup.BackupError) else plain_reason(exc)
            with self.database.transaction() as uow:
                uow.audit.record("backup.failed", now, reason=reason[:200])
            self.deadlines.backup_failed(reason)
            raise
        with self.database.transaction() as uow:
            uow.audit.record(
                "backup.created", now, size=manifest.size, backend=manifest.backend, offsite=offsite
            )
        return manifest

    def backup_job(self) -> None:
        if self.deadlines.has_lease("backup", timedelta(hours=2)):
            try:
                self.backup_now()
            except Exception:  # recorded and escalated in backup_now; the scheduler goes on
                log.warning("scheduled backup failed")

    def close(self) -> None:
        self.engine.dispose()


def build_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    migrate: bool = True,
    classifier: Classifier | None = None,
    mailer: Mailer | None = None,
) -> App:
    org = organisation_of(settings)
    # The rules first: a broken rules file must stop start-up before anything is created.
    classify = classifier or rules_classifier(settings, org)
    keyring = keyring_of(settings)
    engine = make_engine(settings.storage.database_url)
    if migrate:
        upgrade(engine)
    database = SqlDatabase(make_session_factory(engine), Vault(keyring))
    renderer = TemplateRenderer(settings.templates.dir, org.timezone)
    policy = outbox_policy(settings, org)
    deadline_calc = deadline_calculator(settings)
    # The private reply addresses' token key is used for nothing else (issue 11).
    replies = ReplyAddresses(keyring.derived_key("reply-token"), org.mailbox)
    desk = StaffDesk(policy, renderer, replies)
    calendar = work_calendar_of(settings)
    deadline_policy = deadline_policy_of(settings)
    identity = IdentityDesk(
        policy,
        renderer,
        ReplyAddresses(keyring.derived_key("identity-challenge"), org.mailbox),
        IdentityPolicy(settings.identity.trust_dmarc, settings.identity.authserv_id),
        calendar,
        deadline_policy,
    )
    recipients = settings.privacy.recipients
    erasure_policy = ErasurePolicy(
        duties=settings.privacy.retention,
        recipients=recipients,
        backup_keep=(settings.backup.keep_daily, settings.backup.keep_weekly) if settings.backup else None,
    )
    ledger = FileErasureLedger(settings.privacy.erasure_ledger)
    eraser = ticket_eraser(renderer, policy, erasure_policy, ledger)
    package_writer = ZipPackageWriter(settings.templates.dir, org.timezone)
    exporter = access_fulfiller(renderer, policy, org, package_writer, settings.storage.dir / "exports")

    def fulfiller(
        uow: UnitOfWork, ticket: Ticket, actor: str, now: datetime, refused: Sequence[str] = ()
    ) -> str:
        return fulfil_request(
            uow,
            ticket,
            actor,
            now,
            renderer=renderer,
            policy=policy,
            recipients=recipients,
            erase=eraser,
            access=exporter,
            refused=refused,
        )

    processor = Processor(
        org=org,
        classifier=classify,
        deadlines=deadline_calc,
        max_attempts=settings.processing.max_attempts,
        auto_reply_cap_per_day=settings.processing.auto_reply_cap_per_day,
        # The identity verdict first: the acknowledgement promises the challenge only if one goes.
        on_ticket_opened=[
            identity_on_ticket_opened(identity),
            acknowledgement_hook(renderer, policy),
            suppression_hook(),
            new_ticket_notice(desk),
        ],
        on_follow_up=[on_challenge_answered(identity), follow_up_notice(desk)],
        on_staff_reply=[staff_reply_handler(desk, GdprDesk(identity, fulfiller))],
        replies=replies,
        challenges=identity.challenges,
    )
    mail = mailer or mailer_of(settings)
    outbox = OutboxActions(database, mail, clock, policy)
    notifier = DeadlineNotifier(
        renderer, policy, settings.staff.escalation_address, ladder=ladder_of(settings)
    )
    return App(
        settings=settings,
        engine=engine,
        database=database,
        clock=clock,
        org=org,
        processor=processor,
        renderer=renderer,
        outbox_policy=policy,
        mailer=mail,
        work_calendar=calendar,
        deadline_policy=deadline_policy,
        outbox=outbox,
        tickets=TicketActions(
            database, clock, renderer, policy, calendar, deadline_policy, deadline_calc, fulfiller
        ),
        staff=StaffActions(database, clock, desk, identity, fulfiller),
        deadlines=DeadlineActions(
            database, clock, org, renderer, policy, notifier, outbox, leases.new_holder()
        ),
        audit=AuditActions(database, clock),
        customers=CustomerActions(
            database,
            clock,
            org,
            package_writer,
            settings.privacy.recipients,
        ),
        rights=RightsActions(database, clock, renderer, policy, settings.privacy.recipients),
        erasure=ErasureActions(
            database, clock, erasure_policy, ledger, leases.new_holder(), settings.privacy.ticket_retention
        ),
        accounts=staff_accounts_of(settings, database, clock, org),
        views=TicketViews(database, clock),
    )


def staff_accounts_of(
    settings: Settings, database: SqlDatabase, clock: Clock, org: Organisation
) -> StaffAccounts:
    """The web login (issue 18): argon2id, zxcvbn, pyotp behind the services' ports."""
    from mailbot.adapters.staff_auth import Argon2Hasher, PyotpAuthenticator, zxcvbn_score
    from mailbot.domain.staff_login import LoginPolicy

    return StaffAccounts(
        database=database,
        clock=clock,
        hasher=Argon2Hasher(),
        strength=zxcvbn_score,
        totp=PyotpAuthenticator(),
        policy=LoginPolicy(password_max_age_days=settings.web.password_max_age_days),
        staff_addresses=tuple(settings.staff.addresses),
        issuer=f"{org.name} mailbot",
    )
