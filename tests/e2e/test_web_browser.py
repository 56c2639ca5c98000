"""Issue 18 in a real browser: a customer's mail arrives by SMTP at the embedded listener, an admin
enrols through the link ``mailbot staff add`` printed, logs in with password + TOTP, finds the
ticket at the top of the list, answers it — and the customer's SMTP server receives the answer
threaded on their own mail (In-Reply-To and References). Screenshots of the list and the ticket
page are kept as artefacts."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.adapters.smtp_listener import EmbeddedListener
from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App, build_app
from mailbot.config import load_settings
from mailbot.services.pipeline import run_pass
from mailbot.web.app import create_app
from tests.support.app import mailbot_env, run_cli
from tests.support.browser import chromium, free_port, screenshot, served, wait_for_url
from tests.support.fakes import keyword_classifier
from tests.support.smtp_sink import SmtpSink
from tests.support.staff_web import PASSWORD, code_at

pytestmark = pytest.mark.browser

ANNA = "anna@ordevos.nl"
CUSTOMER = "jan.jansen@example.nl"
CUSTOMER_MESSAGE_ID = "<browser-1@example.nl>"


@pytest.fixture
def driver() -> Iterator[object]:
    browser = chromium()
    try:
        yield browser
    finally:
        browser.quit()


def test_enrol_log_in_and_answer_a_ticket_that_came_by_smtp(
    tmp_path: Path, clock, smtp_sink: SmtpSink, driver
) -> None:
    from selenium.webdriver.common.by import By

    clock.now = datetime.now(UTC).replace(microsecond=0)
    port = free_port()
    env = mailbot_env(
        tmp_path,
        f"sqlite:///{tmp_path / 'mailbot.db'}",
        {
            "MAILBOT_STAFF__ADDRESSES": ANNA,
            "MAILBOT_WEB__BASE_URL": f"http://127.0.0.1:{port}",
            "MAILBOT_WEB__SECURE_COOKIES": "false",  # plain HTTP on loopback; TLS is the proxy's
        },
    )
    settings = load_settings(None, env)
    app: App = build_app(
        settings,
        clock=clock,
        classifier=keyword_classifier,
        mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5),
    )
    listener = EmbeddedListener("127.0.0.1", 0, settings.storage.inbox_dir)
    listener.start()
    try:
        mail = EmailMessage()
        mail["From"] = f"Jan Jansen <{CUSTOMER}>"
        mail["To"] = "info@ordevos.nl"
        mail["Subject"] = "Klacht over de training"
        mail["Message-ID"] = CUSTOMER_MESSAGE_ID
        mail.set_content("De training van gisteren begon een uur te laat.\n\nJan")
        with smtplib.SMTP("127.0.0.1", listener.port, timeout=10) as smtp:
            smtp.send_message(mail)
    finally:
        listener.stop()
    source = app.source()
    try:
        assert run_pass(source, app.database, app.processor, app.clock).as_dict()["tickets_opened"] == 1
    finally:
        source.close()
    assert app.outbox.drain().sent == 2  # the acknowledgement and the new-ticket notice to staff
    smtp_sink.clear()
    with app.database.transaction() as uow:
        [ticket] = uow.tickets.list()

    status, output = run_cli(env, "staff", "add", ANNA, "--role", "admin")
    assert status == 0, output
    link = re.search(r"(http://127\.0\.0\.1:\d+/enrol/[\w-]+)", output)
    assert link, output

    try:
        with served(create_app(app), port) as base:
            driver.get(link.group(1))
            secret = driver.find_element(By.ID, "secret").text.strip()
            assert driver.find_element(By.CSS_SELECTOR, "svg")  # the QR code, inline
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.ID, "password_again").send_keys(PASSWORD)
            driver.find_element(By.ID, "code").send_keys(code_at(secret, clock()))
            driver.find_element(By.ID, "enrol").click()
            assert len(driver.find_elements(By.CSS_SELECTOR, "#codes li")) == 10

            clock.advance(seconds=30)  # the next authenticator code: the enrolment's counts once
            driver.get(f"{base}/login")
            driver.find_element(By.ID, "email").send_keys(ANNA)
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.ID, "code").send_keys(code_at(secret, clock()))
            driver.find_element(By.ID, "login").click()

            assert wait_for_url(driver, f"{base}/tickets") == f"{base}/tickets"
            first = driver.find_element(By.CSS_SELECTOR, "#tickets a.ticket-link")
            assert first.text == ticket.ref
            screenshot(driver, "ticket-list", tmp_path)
            first.click()
            assert driver.find_element(By.ID, "subject").text == "Klacht over de training"
            assert "een uur te laat" in driver.page_source
            screenshot(driver, "ticket-page", tmp_path)
            driver.find_element(By.ID, "reply-text").send_keys("Beste Jan,\n\nExcuses, we lossen het op.")
            driver.find_element(By.ID, "reply-send").click()
            assert "queued" in driver.find_element(By.ID, "done").text
    finally:
        sent = app.outbox.drain().sent
        app.close()

    assert sent == 1
    [delivered] = smtp_sink.wait_for(1)
    answer = delivered.message()
    assert delivered.rcpt_tos == (CUSTOMER,)
    assert answer["In-Reply-To"] == CUSTOMER_MESSAGE_ID
    assert CUSTOMER_MESSAGE_ID in str(answer["References"]).split()
    assert ticket.ref in str(answer["Subject"])
    body = answer.get_body(("plain",))
    assert body is not None and "we lossen het op" in str(body.get_content())
    assert (tmp_path / "ticket-list.png").stat().st_size > 1000
    assert (tmp_path / "ticket-page.png").stat().st_size > 1000
