"""Pure rules of the staff login (issue 18): password strength and age, lockout with backoff,
session timeouts, TOTP replay and the per-client rate window.

No clock is read here and nothing is hashed: callers pass ``now`` and the strength score (the
zxcvbn adapter computes it), so every rule is a plain function tested with plain values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    """What a staff member may open: ``admin`` manages accounts, ``staff`` works tickets."""

    STAFF = "staff"
    ADMIN = "admin"


@dataclass(frozen=True)
class LoginPolicy:
    """The knobs, with the issue's defaults: 12 characters and zxcvbn score 3 (R-D8: NIST SP
    800-63B length over composition rules), 30 minutes idle, 12 hours at most per session, five
    failures before a lockout that doubles from one minute up to an hour."""

    min_length: int = 12
    min_score: int = 3
    #: 0 means passwords never expire (NIST); the privacy statement promises periodic change.
    password_max_age_days: int = 365
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    max_failures: int = 5
    lockout_base: timedelta = timedelta(minutes=1)
    lockout_max: timedelta = timedelta(hours=1)
    #: Login attempts per client address per window before the form answers "slow down".
    rate_limit: int = 10
    rate_window: timedelta = timedelta(minutes=1)
    enrolment_valid: timedelta = timedelta(days=3)


def password_problem(password: str, score: int, policy: LoginPolicy) -> str | None:
    """Why ``password`` is refused (one line for the form), or None when it is good enough."""
    if len(password) < policy.min_length:
        return f"the password needs at least {policy.min_length} characters"
    if len(password) > 1024:
        return "the password is too long (1024 characters at most)"
    if score < policy.min_score:
        return "the password is too easy to guess; a few unrelated words make a strong one"
    return None


def password_expired(changed_at: datetime | None, now: datetime, policy: LoginPolicy) -> bool:
    """True when the password must be changed before anything else (``password_max_age_days``)."""
    if changed_at is None:
        return True
    if policy.password_max_age_days <= 0:
        return False
    return now - changed_at >= timedelta(days=policy.password_max_age_days)


def locked_until(failures: int, last_failure: datetime | None, policy: LoginPolicy) -> datetime | None:
    """When a lockout after ``failures`` consecutive failures ends: none below ``max_failures``,
    then ``lockout_base`` doubling with each further failure, capped at ``lockout_max``."""
    if last_failure is None or failures < policy.max_failures:
        return None
    extra = min(failures - policy.max_failures, 20)  # 2**20 minutes is far past any cap
    lockout: timedelta = min(policy.lockout_base * (2**extra), policy.lockout_max)
    return last_failure + lockout


def session_expired(created_at: datetime, last_seen_at: datetime, now: datetime, policy: LoginPolicy) -> bool:
    """Idle too long, or older than the absolute limit: log in again."""
    return now - last_seen_at >= policy.idle or now - created_at >= policy.absolute


def totp_step_fresh(step: int, last_used_step: int | None) -> bool:
    """A TOTP code counts once: its time step must be later than the last one accepted (RFC 6238
    §5.2), so a code read over a shoulder or replayed from a log is refused."""
    return last_used_step is None or step > last_used_step


def rate_allows(attempts: Sequence[datetime], now: datetime, policy: LoginPolicy) -> bool:
    """True while fewer than ``rate_limit`` attempts fall inside the window ending ``now``."""
    start = now - policy.rate_window
    return sum(1 for at in attempts if at > start) < policy.rate_limit
