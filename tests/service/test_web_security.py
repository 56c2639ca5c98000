"""Issue 18: the staff web interface refuses what it must — wrong and replayed TOTP codes, forms
without their CSRF token, expired sessions, an account after N failures, a client hammering the
login, a staff member on an admin page — and lets the right person in. Starlette's TestClient
over HTTPS (so the Secure cookies travel), real storage on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mailbot.bootstrap import App
from mailbot.web.app import create_app
from tests.support.app import make_app
from tests.support.conversation import Conversation
from tests.support.fakes import keyword_classifier
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink
from tests.support.staff_web import PASSWORD, code_at, enrol

ANNA, BRAM = "anna@ordevos.nl", "bram@ordevos.nl"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    application = make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        MAILBOT_STAFF__ADDRESSES=f"{ANNA},{BRAM}",
    )
    yield application
    application.close()


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(app), base_url="https://testserver", follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def log_in(client: TestClient, email: str, password: str, code: str, *, csrf: bool = True) -> int:
    token = csrf_of(client.get("/login").text)
    form = {"email": email, "password": password, "code": code}
    if csrf:
        form["csrf"] = token
    return client.post("/login", data=form).status_code


def logged_in(client: TestClient) -> bool:
    return client.get("/tickets").status_code == 200


def test_password_and_fresh_code_log_in_with_a_strict_cookie(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, ANNA)
    assert client.get("/tickets").headers["location"] == "/login"
    clock.advance(seconds=30)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf": token, "email": ANNA, "password": PASSWORD, "code": code_at(secret, clock())}
    )
    assert response.status_code == 303
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    cookie = next(v for v in cookies if "mailbot_session" in v)
    assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=strict" in cookie.lower()
    page = client.get("/tickets")
    assert page.status_code == 200 and ANNA in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_wrong_totp_is_refused(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, ANNA)
    clock.advance(seconds=30)
    right = code_at(secret, clock())
    assert log_in(client, ANNA, PASSWORD, "000000" if right != "000000" else "111111") == 401
    assert not logged_in(client)
    assert log_in(client, ANNA, "a wrong password here", right) == 401
    assert not logged_in(client)


def test_replayed_totp_is_refused(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, ANNA)
    clock.advance(seconds=30)
    code = code_at(secret, clock())
    assert log_in(client, ANNA, PASSWORD, code) == 303
    client.post("/logout", data={"csrf": csrf_of(client.get("/tickets").text)})
    assert not logged_in(client)
    assert log_in(client, ANNA, PASSWORD, code) == 401  # the same time step again
    assert not logged_in(client)


def test_forms_without_their_csrf_token_are_refused(app: App, client: TestClient, clock, tmp_path) -> None:
    sink = SmtpSink().start()
    try:
        Conversation(app, sink).deliver(make_mail(subject="Vraag", body="Hoe laat begint de training?"))
    finally:
        sink.stop()
    with app.database.transaction() as uow:
        [ticket] = uow.tickets.list()
    secret, _ = enrol(app, ANNA)
    clock.advance(seconds=30)
    assert log_in(client, ANNA, PASSWORD, code_at(secret, clock()), csrf=False) == 403
    assert log_in(client, ANNA, PASSWORD, code_at(secret, clock())) == 303
    before = len(app.views.detail(ticket.ref, ANNA).messages)
    url = f"/tickets/{ticket.ref}/note"
    assert client.post(url, data={"text": "intern"}).status_code == 403
    assert client.post(url, data={"text": "intern", "csrf": "forged"}).status_code == 403
    assert len(app.views.detail(ticket.ref, ANNA).messages) == before
    token = csrf_of(client.get(f"/tickets/{ticket.ref}").text)
    assert client.post(url, data={"text": "intern", "csrf": token}).status_code == 303
    assert len(app.views.detail(ticket.ref, ANNA).messages) == before + 1


def test_expired_session_goes_back_to_the_login(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, ANNA)
    clock.advance(seconds=30)
    assert log_in(client, ANNA, PASSWORD, code_at(secret, clock())) == 303
    assert logged_in(client)
    clock.advance(minutes=31)
    response = client.get("/tickets")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_lockout_after_five_failures(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, ANNA)
    for _ in range(5):
        clock.advance(seconds=7)
        assert log_in(client, ANNA, "not the password at all", "123456") == 401
    clock.advance(seconds=30)
    assert log_in(client, ANNA, PASSWORD, code_at(secret, clock())) == 401
    assert (
        "too many failed attempts"
        in client.post(
            "/login",
            data={
                "csrf": csrf_of(client.get("/login").text),
                "email": ANNA,
                "password": PASSWORD,
                "code": code_at(secret, clock()),
            },
        ).text
    )
    assert not logged_in(client)


def test_login_rate_limit_per_client(app: App, client: TestClient) -> None:
    codes = [log_in(client, f"nobody{i}@ordevos.nl", "whatever password", "123456") for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_staff_member_gets_403_on_the_admin_page(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, BRAM, "staff")
    clock.advance(seconds=30)
    assert log_in(client, BRAM, PASSWORD, code_at(secret, clock())) == 303
    assert client.get("/admin/accounts").status_code == 403
    token = csrf_of(client.get("/tickets").text)
    form = {"csrf": token, "email": ANNA, "role": "admin"}
    assert client.post("/admin/accounts", data=form).status_code == 403
    assert [a.email for a in app.accounts.accounts()] == [BRAM]


def test_admin_creates_an_enrolment_link_and_it_enrols_once(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, ANNA, "admin")
    clock.advance(seconds=30)
    assert log_in(client, ANNA, PASSWORD, code_at(secret, clock())) == 303
    page = client.get("/admin/accounts")
    assert page.status_code == 200
    added = client.post("/admin/accounts", data={"csrf": csrf_of(page.text), "email": BRAM, "role": "staff"})
    link = re.search(r"https?://[^<\s]+/enrol/([\w-]+)", added.text)
    assert link, added.text
    client.post("/logout", data={"csrf": csrf_of(added.text)})
    enrol_page = client.get(f"/enrol/{link.group(1)}")
    bram_secret = re.search(r'id="secret">([A-Z2-7]+)<', enrol_page.text)
    assert bram_secret and "<svg" in enrol_page.text
    form = {"csrf": csrf_of(enrol_page.text), "password": PASSWORD, "password_again": PASSWORD}
    url = f"/enrol/{link.group(1)}"
    weak = client.post(url, data={**form, "password": "x", "password_again": "x", "code": "1"})
    assert weak.status_code == 400 and "12 characters" in weak.text
    done = client.post(url, data={**form, "code": code_at(bram_secret.group(1), clock())})
    assert done.status_code == 200 and len(re.findall(r"<li><code>", done.text)) == 10
    assert client.get(f"/enrol/{link.group(1)}").status_code == 404


def test_an_expired_password_must_be_changed_before_any_page(app: App, client: TestClient, clock) -> None:
    secret, _ = enrol(app, ANNA)
    clock.advance(days=366)
    assert log_in(client, ANNA, PASSWORD, code_at(secret, clock())) == 303
    blocked = client.get("/tickets")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/password"
    page = client.get("/password")
    new = "vier nieuwe woorden samen sterk"
    form = {"csrf": csrf_of(page.text), "current": PASSWORD, "new": new, "new_again": new}
    assert client.post("/password", data={**form, "new": "kort", "new_again": "kort"}).status_code == 400
    assert client.post("/password", data=form).status_code == 303
    assert logged_in(client)


def test_a_disabled_account_loses_its_session(app: App, client: TestClient, clock) -> None:
    admin_secret, _ = enrol(app, ANNA, "admin")
    bram_secret, _ = enrol(app, BRAM, "staff")
    clock.advance(seconds=30)
    assert log_in(client, BRAM, PASSWORD, code_at(bram_secret, clock())) == 303
    assert logged_in(client)
    [bram] = [a for a in app.accounts.accounts() if a.email == BRAM]
    with TestClient(create_app(app), base_url="https://testserver", follow_redirects=False) as admin:
        assert log_in(admin, ANNA, PASSWORD, code_at(admin_secret, clock())) == 303
        token = csrf_of(admin.get("/admin/accounts").text)
        assert admin.post(f"/admin/accounts/{bram.id}/disable", data={"csrf": token}).status_code == 303
    assert not logged_in(client)
    clock.advance(seconds=30)
    assert log_in(client, BRAM, PASSWORD, code_at(bram_secret, clock())) == 401
