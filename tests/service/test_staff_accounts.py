"""Issue 18: staff web accounts on real storage (SQLite and PostgreSQL): enrolment, login with
password + TOTP, lockout, replay, sessions and their timeouts, all audited without addresses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbot.bootstrap import App
from mailbot.services.staff_accounts import LOGIN_REFUSED, AccountRefused
from tests.support.app import make_app
from tests.support.staff_web import PASSWORD, code_at, enrol

ANNA = "anna@ordevos.nl"


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    application = make_app(tmp_path, database_url, clock, MAILBOT_STAFF__ADDRESSES=f"{ANNA},bram@ordevos.nl")
    yield application
    application.close()


def events(app: App) -> list[tuple[str, str]]:
    with app.database.transaction() as uow:
        return [(e.kind, e.actor) for e in uow.audit.chain() if e.kind.startswith("staff.")]


def test_enrol_then_log_in_with_password_and_a_fresh_code(app: App, clock) -> None:
    secret, codes = enrol(app, ANNA, "admin")
    assert len(codes) == 10 and len(set(codes)) == 10
    clock.advance(seconds=30)
    done = app.accounts.login(ANNA, PASSWORD, code_at(secret, clock()))
    assert done.account.is_admin
    found = app.accounts.session(done.token)
    assert found is not None and found[1].email == ANNA
    kinds = events(app)
    assert ("staff.login", f"staff:{done.account.id}") in kinds
    assert all(ANNA not in actor for _, actor in kinds)


def test_only_staff_addresses_get_accounts_and_roles_are_two(app: App) -> None:
    with pytest.raises(AccountRefused, match="not on staff"):
        app.accounts.add("someone@example.nl", "staff")
    with pytest.raises(AccountRefused, match="staff or admin"):
        app.accounts.add(ANNA, "root")


def test_weak_password_and_wrong_code_stop_enrolment(app: App) -> None:
    token = app.accounts.add(ANNA, "staff")
    secret = app.accounts.begin_enrolment(token).secret
    with pytest.raises(AccountRefused, match="12 characters"):
        app.accounts.complete_enrolment(token, "short", code_at(secret, app.clock()))
    with pytest.raises(AccountRefused, match="too easy"):
        app.accounts.complete_enrolment(token, "password1234", code_at(secret, app.clock()))
    with pytest.raises(AccountRefused, match="does not match"):
        app.accounts.complete_enrolment(token, PASSWORD, "000000")
    app.accounts.complete_enrolment(token, PASSWORD, code_at(secret, app.clock()))
    with pytest.raises(AccountRefused, match="not valid"):  # the link works once
        app.accounts.begin_enrolment(token)


def test_wrong_code_and_replayed_code_are_refused(app: App, clock) -> None:
    secret, _ = enrol(app, ANNA)
    with pytest.raises(AccountRefused, match=LOGIN_REFUSED):  # the enrolment's own step
        app.accounts.login(ANNA, PASSWORD, code_at(secret, clock()))
    clock.advance(seconds=30)
    code = code_at(secret, clock())
    with pytest.raises(AccountRefused, match=LOGIN_REFUSED):
        app.accounts.login(ANNA, "wrong password entirely", code)
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(AccountRefused, match=LOGIN_REFUSED):
        app.accounts.login(ANNA, PASSWORD, wrong)
    app.accounts.login(ANNA, PASSWORD, code)
    with pytest.raises(AccountRefused, match=LOGIN_REFUSED):
        app.accounts.login(ANNA, PASSWORD, code)  # same step again
    reasons = [k for k, _ in events(app)]
    assert reasons.count("staff.login_failed") == 4


def test_recovery_codes_work_once(app: App) -> None:
    _, codes = enrol(app, ANNA)
    app.accounts.login(ANNA, PASSWORD, codes[0])
    with pytest.raises(AccountRefused):
        app.accounts.login(ANNA, PASSWORD, codes[0])
    app.accounts.login(ANNA, PASSWORD, codes[1].upper())


def test_lockout_after_five_failures_refuses_even_the_right_password(app: App, clock) -> None:
    secret, _ = enrol(app, ANNA)
    for _ in range(5):
        clock.advance(seconds=1)
        with pytest.raises(AccountRefused, match=LOGIN_REFUSED):
            app.accounts.login(ANNA, "not the password at all", "123456")
    clock.advance(seconds=30)
    with pytest.raises(AccountRefused, match="too many failed attempts"):
        app.accounts.login(ANNA, PASSWORD, code_at(secret, clock()))
    clock.advance(minutes=1)
    app.accounts.login(ANNA, PASSWORD, code_at(secret, clock()))


def test_sessions_expire_idle_and_absolute_and_on_logout(app: App, clock) -> None:
    secret, _ = enrol(app, ANNA)
    clock.advance(seconds=30)
    token = app.accounts.login(ANNA, PASSWORD, code_at(secret, clock())).token
    start = clock()
    while clock() - start < app.accounts.policy.absolute:  # active every 25 minutes: never idle
        assert app.accounts.session(token) is not None
        clock.advance(minutes=25)
    assert app.accounts.session(token) is None
    clock.advance(seconds=30)
    token = app.accounts.login(ANNA, PASSWORD, code_at(secret, clock())).token
    clock.advance(minutes=31)
    assert app.accounts.session(token) is None
    clock.advance(seconds=30)
    token = app.accounts.login(ANNA, PASSWORD, code_at(secret, clock())).token
    app.accounts.logout(token)
    assert app.accounts.session(token) is None


def test_an_old_password_must_be_changed(app: App, clock) -> None:
    secret, _ = enrol(app, ANNA)
    clock.advance(days=366)
    done = app.accounts.login(ANNA, PASSWORD, code_at(secret, clock()))
    assert done.session.must_change_password
    with pytest.raises(AccountRefused, match="different"):
        app.accounts.change_password(done.token, PASSWORD, PASSWORD)
    app.accounts.change_password(done.token, PASSWORD, "vier nieuwe woorden samen sterk")
    found = app.accounts.session(done.token)
    assert found is not None and not found[0].must_change_password
