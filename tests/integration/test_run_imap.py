"""``mailbot run`` on IMAP: a message APPENDed while the service idles becomes a ticket within
seconds (IDLE wakes it, R-C19), and stop() — what SIGTERM calls — ends the loop cleanly."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mailbot.runner import Runner
from tests.support.app import make_app
from tests.support.dovecot import DovecotServer
from tests.support.fakes import keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store


def test_idle_wakes_the_service_and_stop_ends_it(tmp_path: Path, imap: DovecotServer) -> None:
    from mailbot.bootstrap import utc_now

    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        utc_now,
        classifier=keyword_classifier,
        MAILBOT_IMAP__HOST="127.0.0.1",
        MAILBOT_IMAP__PORT=str(imap.port),
        MAILBOT_IMAP__SECURITY="plain",
        MAILBOT_IMAP__USERNAME=imap.user,
        MAILBOT_IMAP__PASSWORD=imap.password,
        MAILBOT_IMAP__POLL_SECONDS="120",  # far longer than the test: only IDLE can wake it in time
    )
    runner = Runner(app)
    observed: dict[str, float] = {}

    def customer_and_staff() -> None:
        time.sleep(1.5)  # let the service reach IDLE
        sent = time.monotonic()
        imap.append(make_mail(subject="Klacht over de training"))
        while time.monotonic() - sent < 20:
            with open_store(app) as store:
                if store.all_tickets():
                    observed["seconds"] = time.monotonic() - sent
                    break
            time.sleep(0.2)
        runner.stop()

    helper = threading.Thread(target=customer_and_staff)
    helper.start()
    started = time.monotonic()
    runner.run_forever()  # main thread: it installs the SIGTERM/SIGINT handlers
    helper.join(timeout=30)
    assert "seconds" in observed, "no ticket: IDLE did not wake the service"
    assert observed["seconds"] < 10
    assert time.monotonic() - started < 40  # stop() ended the loop without waiting out the poll
    assert imap.uids("INBOX") == []  # processed and moved
