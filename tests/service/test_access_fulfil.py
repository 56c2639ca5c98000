"""Issue 12, access (art. 15, R-A9, R-A10) carried out from its ticket: after verification,
``tickets fulfil`` sends the package to the address on file, attached to the letter; a package too
large to mail is handed to staff and the ticket stays open. Real rules, storage and SMTP."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from mailbot.services.access_request import access_fulfiller
from tests.support.app import make_app
from tests.support.conversation import Conversation
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

JAN, STAFF = "jan.jansen@example.nl", "staff@ordevos.nl"


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> Iterator[App]:  # type: ignore[no-untyped-def]
    application = make_app(
        tmp_path,
        database_url,
        clock,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        MAILBOT_STAFF__ADDRESSES=STAFF,
    )
    yield application
    application.close()


def access_ticket(app: App, smtp_sink: SmtpSink) -> tuple[Conversation, str]:
    talk = Conversation(app, smtp_sink)
    talk.deliver(
        make_mail(
            subject="Training",
            body="Hierbij mijn vraag over de training.",
            attachments=[("cv.pdf", "application/pdf", b"%PDF-1.4 jan-cv")],
        )
    )
    talk.deliver(make_mail(subject="Inzageverzoek", body="Ik wil graag inzage in al mijn persoonsgegevens."))
    talk.send()
    with app.database.transaction() as uow:
        [ticket] = [t for t in uow.tickets.list() if t.category == "access"]
    return talk, ticket.ref


def test_r_a9_a_verified_access_request_is_answered_with_the_package_attached(
    app: App, smtp_sink: SmtpSink
) -> None:
    talk, ref = access_ticket(app, smtp_sink)
    with pytest.raises(ValueError, match="verify"):
        app.staff.fulfil(ref, STAFF)
    app.staff.verify(ref, "teruggebeld", STAFF)
    assert app.staff.fulfil(ref, STAFF).startswith("exported")
    [letter] = talk.to(JAN, talk.send())
    assert ref in str(letter["Subject"]) and "index.html" in str(letter.get_body(("plain",)))
    [attachment] = list(letter.iter_attachments())
    assert attachment.get_content_type() == "application/zip"
    with zipfile.ZipFile(io.BytesIO(attachment.get_content())) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("data.json"))
    assert "index.html" in names and any(n.endswith("cv.pdf") for n in names)
    assert data["customer"]["email"] == JAN
    with app.database.transaction() as uow:
        ticket = uow.tickets.by_ref(ref)
        assert ticket is not None and ticket.status == "resolved" and ticket.answered_at is not None
    with pytest.raises(ValueError, match="already been answered"):
        app.staff.fulfil(ref, STAFF)


def test_a_package_too_large_to_mail_is_handed_to_staff_and_the_ticket_stays_open(
    app: App, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    talk, ref = access_ticket(app, smtp_sink)
    app.staff.verify(ref, "teruggebeld", STAFF)
    small = access_fulfiller(
        app.renderer, app.outbox_policy, app.org, app.customers.writer, tmp_path / "exports", mail_limit=100
    )
    with app.database.transaction() as uow:
        ticket = uow.tickets.by_ref(ref)
        assert ticket is not None
        done = small(uow, ticket, STAFF, app.clock())
    assert "too large to mail" in done and str(tmp_path / "exports" / ref) in done
    assert list((tmp_path / "exports" / ref).glob("export-*.zip"))
    assert talk.to(JAN, talk.send()) == []  # no letter promising what was not sent
    with app.database.transaction() as uow:
        ticket = uow.tickets.by_ref(ref)
        assert ticket is not None and ticket.answered_at is None and ticket.status != "resolved"
