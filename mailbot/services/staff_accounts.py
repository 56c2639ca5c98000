"""Staff web accounts (issue 18): enrolment, login with password + TOTP, sessions, password change.

Every decision is a rule from ``domain.staff_login``; this module only loads, applies and stores,
one transaction per call. Secrets never reach a log or the audit trail: events name the account
id, never the address, the password or a code. The refusal a login gets is the same whichever
factor was wrong, so the form tells an attacker nothing about which one to try next.

    staff add ──► enrolment link ──► password + authenticator ──► recovery codes
                                                      │
    login (email, password, code) ──► session cookie ─┴─► pages (idle 30 min, absolute 12 h)
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from mailbot.domain.model import new_id
from mailbot.domain.staff_account import StaffAccount, StaffSession
from mailbot.domain.staff_login import (
    LoginPolicy,
    Role,
    locked_until,
    password_expired,
    password_problem,
    session_expired,
    totp_step_fresh,
)
from mailbot.services.ports import Authenticator, Clock, PasswordHasher, StrengthMeter
from mailbot.services.repositories import Database, UnitOfWork

log = logging.getLogger(__name__)

RECOVERY_CODES = 10
#: The refusal of every failed login, whichever factor was wrong.
LOGIN_REFUSED = "wrong address, password or code"


class AccountRefused(ValueError):
    """The request cannot be done (nothing changed); the message is one line for the form."""


def token_hash(token: str) -> str:
    """Random tokens (sessions, enrolment links, recovery codes) are stored as their SHA-256: they
    carry 128+ bits of chance already, so a slow hash adds nothing."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _recovery_code() -> str:
    raw = secrets.token_hex(8)
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:12]}-{raw[12:]}"


def _normal_code(code: str) -> str:
    return code.strip().lower().replace(" ", "")


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the authenticator secret and its ``otpauth://`` URI."""

    email: str
    secret: str
    uri: str


@dataclass(frozen=True)
class LoggedIn:
    token: str
    session: StaffSession
    account: StaffAccount


@dataclass(frozen=True)
class StaffAccounts:
    """The account use cases, bound once by ``bootstrap`` (the CLI and the web call them)."""

    database: Database
    clock: Clock
    hasher: PasswordHasher
    strength: StrengthMeter
    totp: Authenticator
    policy: LoginPolicy
    staff_addresses: tuple[str, ...]
    issuer: str

    # -- accounts --------------------------------------------------------------------------------

    def add(self, email: str, role: str, actor: str = "admin") -> str:
        """A new account (or a fresh enrolment for an existing one); returns the one-time token
        for the enrolment link. Only addresses on ``staff.addresses`` can act on tickets."""
        address = email.strip().lower()
        if address not in (a.lower() for a in self.staff_addresses):
            raise AccountRefused(f"{address} is not on staff.addresses; add it there first")
        try:
            wanted = Role(role)
        except ValueError:
            raise AccountRefused("the role is staff or admin") from None
        now = self.clock()
        token = secrets.token_urlsafe(32)
        with self.database.transaction() as uow:
            account = uow.staff_accounts.by_email(address)
            if account is None:
                account = StaffAccount(id=new_id(), email=address, role=wanted, created_at=now)
                uow.staff_accounts.add(account)
            account.role = wanted
            account.enrol_token_hash = token_hash(token)
            account.enrol_expires_at = now + self.policy.enrolment_valid
            account.password_hash = account.totp_secret = account.totp_pending = None
            account.failures, account.disabled_at = 0, None
            uow.staff_accounts.save(account)
            uow.staff_accounts.drop_sessions_of(account.id)
            uow.audit.record("staff.account_added", now, actor=actor, staff_id=account.id, role=wanted.value)
        return token

    def accounts(self) -> list[StaffAccount]:
        with self.database.transaction() as uow:
            return uow.staff_accounts.all()

    def disable(self, account_id: str, actor: str) -> None:
        now = self.clock()
        with self.database.transaction() as uow:
            account = uow.staff_accounts.get(account_id)
            if account is None:
                raise LookupError("no such account")
            account.disabled_at = now
            uow.staff_accounts.save(account)
            uow.staff_accounts.drop_sessions_of(account.id)
            uow.audit.record("staff.account_disabled", now, actor=actor, staff_id=account.id)

    # -- enrolment -------------------------------------------------------------------------------

    def _enrolling(self, uow: UnitOfWork, token: str, now: datetime) -> StaffAccount:
        account = uow.staff_accounts.by_enrol_token(token_hash(token))
        if account is None or account.enrol_expires_at is None:
            raise AccountRefused("this enrolment link is not valid (ask an admin for a new one)")
        if now >= account.enrol_expires_at:
            raise AccountRefused("this enrolment link has expired (ask an admin for a new one)")
        return account

    def begin_enrolment(self, token: str) -> Enrolment:
        """The authenticator secret to show (kept pending until a code from it is confirmed)."""
        now = self.clock()
        with self.database.transaction() as uow:
            account = self._enrolling(uow, token, now)
            if account.totp_pending is None:
                account.totp_pending = self.totp.new_secret()
                uow.staff_accounts.save(account)
            secret = account.totp_pending
            return Enrolment(account.email, secret, self.totp.uri(secret, account.email, self.issuer))

    def complete_enrolment(self, token: str, password: str, code: str) -> list[str]:
        """Set the password and confirm the authenticator; returns the recovery codes (shown once)."""
        now = self.clock()
        with self.database.transaction() as uow:
            account = self._enrolling(uow, token, now)
            problem = password_problem(password, self.strength(password, [account.email]), self.policy)
            if problem:
                raise AccountRefused(problem)
            secret = account.totp_pending
            step = self.totp.matching_step(secret, code, now) if secret else None
            if secret is None or step is None:
                raise AccountRefused("the code does not match the authenticator; try the next one")
            account.password_hash = self.hasher.hash(password)
            account.password_changed_at = now
            account.totp_secret, account.totp_pending, account.totp_last_step = secret, None, step
            account.enrol_token_hash = account.enrol_expires_at = None
            account.failures = 0
            uow.staff_accounts.save(account)
            codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
            uow.staff_accounts.replace_recovery_codes(account.id, [token_hash(c) for c in codes])
            uow.audit.record("staff.enrolled", now, actor=f"staff:{account.id}")
        return codes

    # -- login -----------------------------------------------------------------------------------

    def login(self, email: str, password: str, code: str) -> LoggedIn:
        """Password and a fresh TOTP code (or an unused recovery code) open a session. Failures
        count towards the lockout; a locked account is refused without looking at the password."""
        now = self.clock()
        with self.database.transaction() as uow:
            account = uow.staff_accounts.by_email(email.strip().lower())
            if account is None or not account.enrolled or account.disabled_at is not None:
                self.hasher.verify(_DUMMY_HASH.get(self.hasher), password)  # same time as a real check
                uow.audit.record("staff.login_failed", now, actor="unknown", reason="no-account")
                log.info("staff login refused", extra={"reason": "no-account"})
                raise AccountRefused(LOGIN_REFUSED)
            until = locked_until(account.failures, account.last_failure_at, self.policy)
            if until is not None and now < until:
                uow.audit.record("staff.login_locked", now, actor=f"staff:{account.id}")
                log.info("staff login refused", extra={"staff_id": account.id, "reason": "locked"})
                minutes = max(1, int((until - now).total_seconds() // 60 + 1))
                raise AccountRefused(f"too many failed attempts; try again in {minutes} minute(s)")
            reason = self._second_factor(uow, account, password, code, now)
            if reason is not None:
                account.failures += 1
                account.last_failure_at = now
                uow.staff_accounts.save(account)
                uow.audit.record(
                    "staff.login_failed",
                    now,
                    actor=f"staff:{account.id}",
                    reason=reason,
                    failures=account.failures,
                )
                log.info("staff login refused", extra={"staff_id": account.id, "reason": reason})
                failed = AccountRefused(LOGIN_REFUSED)
            else:
                failed = None
                account.failures, account.last_failure_at = 0, None
                uow.staff_accounts.save(account)
                token = secrets.token_urlsafe(32)
                session = StaffSession(
                    token_hash=token_hash(token),
                    account_id=account.id,
                    csrf=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen_at=now,
                    must_change_password=password_expired(account.password_changed_at, now, self.policy),
                )
                uow.staff_accounts.add_session(session)
                uow.audit.record("staff.login", now, actor=f"staff:{account.id}")
                log.info("staff logged in", extra={"staff_id": account.id})
        if failed is not None:  # raised after the commit, so the failure is counted
            raise failed
        return LoggedIn(token, session, account)

    def _second_factor(
        self, uow: UnitOfWork, account: StaffAccount, password: str, code: str, now: datetime
    ) -> str | None:
        """Why the password or the code is refused, or None (then the TOTP step is recorded)."""
        assert account.password_hash is not None and account.totp_secret is not None
        if not self.hasher.verify(account.password_hash, password):
            return "password"
        normal = _normal_code(code)
        if len(normal) > 8:  # recovery codes are 16 hex digits in four groups
            used = uow.staff_accounts.use_recovery_code(account.id, token_hash(normal), now)
            return None if used else "recovery-code"
        step = self.totp.matching_step(account.totp_secret, normal, now)
        if step is None:
            return "totp"
        if not totp_step_fresh(step, account.totp_last_step):
            return "totp-replayed"
        account.totp_last_step = step
        return None

    def session(self, token: str) -> tuple[StaffSession, StaffAccount] | None:
        """The live session and its account; an expired one is removed (log in again)."""
        if not token:
            return None
        now = self.clock()
        with self.database.transaction() as uow:
            found = uow.staff_accounts.find_session(token_hash(token))
            if found is None:
                return None
            account = uow.staff_accounts.get(found.account_id)
            if (
                account is None
                or account.disabled_at is not None
                or session_expired(found.created_at, found.last_seen_at, now, self.policy)
            ):
                uow.staff_accounts.drop_session(found.token_hash)
                uow.audit.record("staff.session_expired", now, actor=f"staff:{found.account_id}")
                return None
            found.last_seen_at = now
            uow.staff_accounts.save_session(found)
            return found, account

    def logout(self, token: str) -> None:
        now = self.clock()
        with self.database.transaction() as uow:
            found = uow.staff_accounts.find_session(token_hash(token))
            if found is not None:
                uow.staff_accounts.drop_session(found.token_hash)
                uow.audit.record("staff.logout", now, actor=f"staff:{found.account_id}")

    def change_password(self, token: str, current: str, new: str) -> None:
        """A new password (not the current one) that passes the rules; other sessions end."""
        now = self.clock()
        with self.database.transaction() as uow:
            found = uow.staff_accounts.find_session(token_hash(token))
            account = uow.staff_accounts.get(found.account_id) if found else None
            if found is None or account is None or account.password_hash is None:
                raise AccountRefused("log in again")
            if not self.hasher.verify(account.password_hash, current):
                raise AccountRefused("the current password is wrong")
            if current == new:
                raise AccountRefused("choose a password different from the current one")
            problem = password_problem(new, self.strength(new, [account.email]), self.policy)
            if problem:
                raise AccountRefused(problem)
            account.password_hash = self.hasher.hash(new)
            account.password_changed_at = now
            uow.staff_accounts.save(account)
            uow.staff_accounts.drop_sessions_of(account.id)
            found.must_change_password = False
            found.last_seen_at = now
            uow.staff_accounts.add_session(found)
            uow.audit.record("staff.password_changed", now, actor=f"staff:{account.id}")


class _DummyHashes:
    """One hash per hasher of a password nobody has, so an unknown address costs a real verify."""

    def __init__(self) -> None:
        self._by_hasher: dict[int, str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = id(hasher)
        if key not in self._by_hasher:
            self._by_hasher[key] = hasher.hash(secrets.token_urlsafe(16))
        return self._by_hasher[key]


_DUMMY_HASH = _DummyHashes()
