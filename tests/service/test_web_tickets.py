"""Issue 18: the ticket pages show what the use cases return and their forms call exactly them —
the list by deadline with filters and counts, the thread, reply/note/assign/status/reclassify and
the GDPR actions — each audited with the staff member's address. ``mailbot staff add`` prints
the enrolment link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mailbot.bootstrap import App
from mailbot.web.app import create_app
from tests.support.app import mailbot_env, make_app, run_cli
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
def client(app: App, clock) -> Iterator[TestClient]:
    sink = SmtpSink().start()
    try:
        talk = Conversation(app, sink)
        talk.deliver(make_mail(subject="Klacht over de factuur", body="De factuur klopt niet."))
        talk.deliver(make_mail(sender="piet@example.nl", subject="Vraag", body="Wanneer is de training?"))
        talk.deliver(
            make_mail(sender="kees@example.nl", subject="Verzoek", body="Graag inzage in mijn gegevens.")
        )
    finally:
        sink.stop()
    secret, _ = enrol(app, ANNA)
    clock.advance(seconds=30)
    with TestClient(create_app(app), base_url="https://testserver", follow_redirects=False) as c:
        token = CSRF.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
        login = {"csrf": token, "email": ANNA, "password": PASSWORD, "code": code_at(secret, clock())}
        assert c.post("/login", data=login).status_code == 303
        yield c


def refs(html: str) -> list[str]:
    return re.findall(r'class="ticket-link">([A-Z]+-\d{4}-\d+)<', html)


def act(client: TestClient, ref: str, action: str, **form: str):
    token = CSRF.search(client.get(f"/tickets/{ref}").text).group(1)  # type: ignore[union-attr]
    return client.post(f"/tickets/{ref}/{action}", data={"csrf": token, **form})


def test_list_is_sorted_by_deadline_with_filters_and_counts(app: App, client: TestClient) -> None:
    everything = app.views.list(_all())
    page = client.get("/tickets")
    assert page.status_code == 200
    assert refs(page.text) == [r.ticket.ref for r in everything.rows]
    dues = [r.next_due for r in everything.rows]
    assert dues == sorted(d for d in dues if d) + [None] * dues.count(None)
    complaints = refs(client.get("/tickets?category=complaint").text)
    assert len(complaints) == 1 and "complaint (1)" in page.text
    assert refs(client.get("/tickets?overdue=1").text) == []
    assert len(refs(client.get("/tickets?assignee=-").text)) == 3


def test_ticket_page_shows_the_thread_and_actions_call_the_use_cases(app: App, client: TestClient) -> None:
    [row] = [r for r in app.views.list(_all()).rows if r.ticket.category == "complaint"]
    ref = row.ticket.ref
    page = client.get(f"/tickets/{ref}")
    assert "De factuur klopt niet." in page.text and "evidence" in page.text
    assert "Dutch (letters and your answer in Dutch)" in page.text  # issue 17: which language to answer in
    assert act(client, ref, "reply", text="Excuses, we passen de factuur aan.").status_code == 303
    assert act(client, ref, "assign", name=BRAM).status_code == 303
    assert act(client, ref, "status", status="waiting").status_code == 303
    assert act(client, ref, "reclassify", category="other").status_code == 303
    empty = act(client, ref, "note", text="   ")
    assert empty.status_code == 400 and "empty" in empty.text
    done = client.get(f"/tickets/{ref}?done=assign")
    assert "Assigned." in done.text
    detail = app.views.detail(ref, ANNA)
    assert detail.ticket.assignee == BRAM and detail.ticket.status == "waiting"
    assert detail.ticket.category == "other" and detail.ticket.first_responded_at is not None
    kinds = {(e.kind, e.actor) for e in detail.events}
    assert ("ticket.answered", ANNA) in kinds
    assert client.get("/tickets/ORD-1999-99999").status_code == 404


def test_gdpr_actions_are_offered_and_refusals_are_one_line(app: App, client: TestClient) -> None:
    [row] = [r for r in app.views.list(_all()).rows if r.ticket.category == "access"]
    ref = row.ticket.ref
    page = client.get(f"/tickets/{ref}")
    assert "GDPR request" in page.text and "/extend" in page.text
    refused = act(client, ref, "refuse", reasons="")
    assert refused.status_code == 400 and 'class="error"' in refused.text
    assert "Traceback" not in refused.text and "Error" not in refused.text.split("<main>")[1][:200]
    assert act(client, ref, "verify", method="telefoongesprek, bekende gegevens").status_code == 303
    assert app.views.detail(ref, ANNA).ticket.identity_status == "verified"


def _all():
    from mailbot.services.ticket_views import TicketFilter

    return TicketFilter()


def test_cli_staff_add_prints_a_link_that_enrols(tmp_path: Path, clock) -> None:
    env = mailbot_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'cli.db'}",
        {"MAILBOT_STAFF__ADDRESSES": ANNA, "MAILBOT_WEB__BASE_URL": "https://mb.example.nl"},
    )
    status, output = run_cli(env, "staff", "add", ANNA, "--role", "admin")
    assert status == 0 and re.search(r"https://mb\.example\.nl/enrol/[\w-]{40,}", output), output
    status, output = run_cli(env, "staff", "add", "nobody@example.nl")
    assert status == 2 and "not on staff.addresses" in output and "Error" not in output
    status, output = run_cli(env, "staff", "list")
    assert status == 0 and "enrolment pending" in output


def test_review_and_digest_pages(app: App, client: TestClient) -> None:
    review = client.get("/quarantine")
    assert review.status_code == 200 and "The quarantine is empty." in review.text
    digest = client.get("/digest")
    assert digest.status_code == 200 and 'id="digest"' in digest.text
    assert "complaint" in digest.text.lower() or "klacht" in digest.text.lower()
