"""The SQL unit of work: one session, one transaction, every repository bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailbot.adapters.db.repos.customers import SqlCustomers
from mailbot.adapters.db.repos.erasure import SqlErasures
from mailbot.adapters.db.repos.mailbox import SqlMailbox, SqlQuarantine
from mailbot.adapters.db.repos.outbox import SqlOutbox
from mailbot.adapters.db.repos.privacy import SqlPrivacy
from mailbot.adapters.db.repos.records import SqlAudit, SqlDecisions, SqlLeases, SqlSteps
from mailbot.adapters.db.repos.staff import SqlStaffAccounts
from mailbot.adapters.db.repos.tickets import SqlMessages, SqlTickets
from mailbot.adapters.db.vault import SYSTEM_KEY_INFO, Vault
from mailbot.services.repositories import Conflict


class SqlUnitOfWork:
    """Implements ``mailbot.services.repositories.UnitOfWork`` over one SQLAlchemy session."""

    def __init__(self, session: Session, vault: Vault) -> None:
        self.session = session
        self.customers = SqlCustomers(session, vault)
        self.mailbox = SqlMailbox(session, vault)
        self.quarantine = SqlQuarantine(session, vault)
        self.tickets = SqlTickets(session, vault)
        self.messages = SqlMessages(session, vault)
        self.outbox = SqlOutbox(session, vault)
        self.audit = SqlAudit(session, vault)
        self.steps = SqlSteps(session, vault)
        self.decisions = SqlDecisions(session, vault)
        self.leases = SqlLeases(session, vault)
        self.privacy = SqlPrivacy(session, vault)
        self.erasures = SqlErasures(session, vault)
        self.staff_accounts = SqlStaffAccounts(session, vault)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """SAVEPOINT … RELEASE (flushing first, so a failing insert fails inside), or ROLLBACK TO
        SAVEPOINT when the block raises; the exception goes on to the caller."""
        try:
            with self.session.begin_nested():
                yield
                self.audit.write_head()
        except BaseException:
            # What this transaction remembered may have been made inside the savepoint.
            self.session.info.pop(SYSTEM_KEY_INFO, None)
            self.audit.forget_last()
            raise


class SqlDatabase:
    """Implements ``mailbot.services.repositories.Database``: commit on success, roll back on any
    exception; a unique constraint that a concurrent transaction won surfaces as ``Conflict``."""

    def __init__(self, sessions: sessionmaker[Session], vault: Vault) -> None:
        self.sessions = sessions
        self.vault = vault

    @contextmanager
    def transaction(self) -> Iterator[SqlUnitOfWork]:
        session = self.sessions()
        try:
            with session.begin():
                uow = SqlUnitOfWork(session, self.vault)
                yield uow
                uow.audit.write_head()  # the chain head moved once, to this transaction's last event
        except IntegrityError as exc:
            raise Conflict(str(exc.orig).splitlines()[0] if exc.orig else "conflict") from exc
        finally:
            session.close()

    def scrub(self) -> None:
        engine = self.sessions.kw["bind"]
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM FULL data_keys")
