"""The pure rules of the staff login (issue 18): passwords, lockout backoff, timeouts, TOTP replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailbot.domain.staff_login import (
    LoginPolicy,
    locked_until,
    password_expired,
    password_problem,
    rate_allows,
    session_expired,
    totp_step_fresh,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = LoginPolicy()


def test_short_or_weak_passwords_are_refused_with_one_line() -> None:
    assert "12 characters" in (password_problem("Kort1!", 4, POLICY) or "")
    assert "too easy" in (password_problem("aaaaaaaaaaaaaaaa", 1, POLICY) or "")
    assert password_problem("paard batterij nietje correct", 4, POLICY) is None


def test_password_age_forces_a_change_unless_disabled() -> None:
    assert password_expired(NOW - timedelta(days=365), NOW, POLICY)
    assert not password_expired(NOW - timedelta(days=364), NOW, POLICY)
    assert password_expired(None, NOW, POLICY)
    assert not password_expired(NOW - timedelta(days=9999), NOW, LoginPolicy(password_max_age_days=0))


def test_lockout_starts_at_the_limit_and_doubles_up_to_the_cap() -> None:
    assert locked_until(4, NOW, POLICY) is None
    assert locked_until(5, NOW, POLICY) == NOW + timedelta(minutes=1)
    assert locked_until(6, NOW, POLICY) == NOW + timedelta(minutes=2)
    assert locked_until(8, NOW, POLICY) == NOW + timedelta(minutes=8)
    assert locked_until(40, NOW, POLICY) == NOW + timedelta(hours=1)


def test_sessions_end_when_idle_or_too_old() -> None:
    assert not session_expired(NOW, NOW, NOW + timedelta(minutes=29), POLICY)
    assert session_expired(NOW, NOW, NOW + timedelta(minutes=30), POLICY)
    start = NOW - timedelta(hours=12)
    assert session_expired(start, NOW - timedelta(minutes=1), NOW, POLICY)


def test_a_totp_step_counts_once() -> None:
    assert totp_step_fresh(100, None)
    assert totp_step_fresh(101, 100)
    assert not totp_step_fresh(100, 100)
    assert not totp_step_fresh(99, 100)


def test_rate_window() -> None:
    attempts = [NOW - timedelta(seconds=s) for s in range(9)]
    assert rate_allows(attempts, NOW, POLICY)
    assert not rate_allows([*attempts, NOW], NOW, POLICY)
    assert rate_allows([NOW - timedelta(minutes=2)] * 50, NOW, POLICY)
