"""Issue 17: the complaint acknowledgement promises 48 hours *on working days* — never contact on
a Sunday or public holiday — while the internal ladder keeps its stricter clock hours. Real
pipeline, real outbox, real SMTP server on loopback; the mail read as the customer gets it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App
from tests.support.app import make_app
from tests.support.conversation import Conversation, newest_ticket, plain_text
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

AMS = ZoneInfo("Europe/Amsterdam")
FRIDAY_3PM = datetime(2026, 12, 4, 15, 0, tzinfo=AMS)
JAN = "jan.jansen@example.nl"


def acknowledgement(
    tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink, subject: str, body: str, **env: str
) -> tuple[App, str, str, list[str]]:
    """Deliver one complaint on Friday 15:00: the text and HTML of the acknowledgement Jan gets,
    and the texts of the notices head office gets."""
    clock.now = FRIDAY_3PM
    app = make_app(
        tmp_path,
        database_url,
        clock,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
        **env,
    )
    talk = Conversation(app, smtp_sink)
    assert talk.deliver(make_mail(sender=JAN, subject=subject, body=body)) == ["ticket_opened"]
    sent = talk.send()
    [ack] = [m for m in talk.to(JAN, sent) if m["Auto-Submitted"] == "auto-replied"]
    notices = [plain_text(m) for m in talk.to("hoofdkantoor@ordevos.nl", sent)]
    html = ack.get_body(("html",))
    assert html is not None
    return app, plain_text(ack), str(html.get_content()), notices


def test_dutch_letter_promises_tuesday_not_sunday(
    tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink
) -> None:
    app, text, html, notices = acknowledgement(
        tmp_path, database_url, clock, smtp_sink, "Klacht over de training", "Ik ben ontevreden."
    )
    try:
        ticket = newest_ticket(app)
    finally:
        app.close()
    promise = "binnen 48 uur op werkdagen (weekenden en feestdagen tellen niet mee) contact met u op"
    when = "uiterlijk op dinsdag 8 december 2026 om 15:00"
    assert promise in text and when in text, text
    assert promise in html and "dinsdag 8 december 2026 om 15:00" in html
    assert "zondag" not in text
    # Four weeks after Friday 4 December is Nieuwjaarsdag 2027: the decision term runs to Monday.
    assert "uiterlijk op maandag 4 januari 2027 volledig af te handelen" in text
    assert "1 januari" not in text
    # The ladder staff work to is unchanged: 48 clock hours, Sunday 15:00 (earlier, stricter).
    assert ticket.first_response_due is not None
    assert ticket.first_response_due.astimezone(AMS) == datetime(2026, 12, 6, 15, 0, tzinfo=AMS)
    # Staff see both: their own (earlier) deadline and what the customer was promised.
    [notice] = notices
    assert "Eerste reactie:     uiterlijk zondag 6 december 2026 om 15:00" in notice
    assert "Klant beloofd:      uiterlijk dinsdag 8 december 2026 om 15:00 (48 uur op werkdagen)" in notice


def test_english_letter_promises_working_days(
    tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink
) -> None:
    app, text, _, _ = acknowledgement(
        tmp_path,
        database_url,
        clock,
        smtp_sink,
        "Complaint about the course",
        "Hello,\n\nI am very unhappy with the course I attended last week and I want to complain.\n\nJan",
    )
    app.close()
    assert "within 48 hours on working days" in text, text
    assert "by Tuesday 8 December 2026 at 15:00 (Amsterdam time)" in text


def test_calendar_promise_mode_keeps_the_old_wording(
    tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink
) -> None:
    """A company that chose clock hours promises them, weekend included, in the old words."""
    app, text, _, _ = acknowledgement(
        tmp_path,
        database_url,
        clock,
        smtp_sink,
        "Klacht over de training",
        "Ik ben ontevreden.",
        MAILBOT_DEADLINES__PROMISE_MODE="calendar",
    )
    app.close()
    assert "binnen 48 uur contact met u op, dus uiterlijk op zondag 6 december 2026 om 15:00" in text
    assert "werkdagen" not in text


@pytest.mark.parametrize("value", ["weekdays", "office"])
def test_unknown_promise_mode_is_a_configuration_error(tmp_path: Path, value: str) -> None:
    from mailbot.config import ConfigError, load_settings
    from tests.support.app import mailbot_env

    with pytest.raises(ConfigError, match=r"deadlines\.promise_mode"):
        load_settings(None, mailbot_env(tmp_path, "sqlite://", {"MAILBOT_DEADLINES__PROMISE_MODE": value}))
