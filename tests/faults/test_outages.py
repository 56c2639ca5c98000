"""Outages (issue 13) under a real ``mailbot run`` on PostgreSQL: Dovecot stopped and restarted,
the SMTP server down for a while, UIDVALIDITY changed under mailbot (the folder rebuilt with new
UIDs), and mailbot's own database connections cut (``pg_terminate_backend`` on its private
database: the shared server itself is never restarted). mailbot logs, reconnects by itself and
ends with every message stored once, processed, moved, and every mail delivered once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from mailbot.adapters.db.models import Outbox
from tests.support.db import truncate_all
from tests.support.dovecot import DovecotServer
from tests.support.faults import Figures, MailbotProcess, fault_corpus, referee, run_env, settled, wait_until
from tests.support.smtp_sink import SmtpSink

MESSAGES = 200

pytestmark = [pytest.mark.slow, pytest.mark.dovecot, pytest.mark.postgres]


def _cut_connections(url: str) -> int:
    """Terminate every other session on mailbot's own (per-test-session) database."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as db:
            return len(
                db.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        engine.dispose()


def test_run_survives_imap_smtp_and_database_outages(
    tmp_path: Path, postgres_database: str, private_dovecot: DovecotServer, sink: SmtpSink
) -> None:
    url = postgres_database
    truncate_all(url)
    corpus = fault_corpus(MESSAGES, seed=21)
    private_dovecot.deliver_files(corpus[:100])
    proc = MailbotProcess(run_env(tmp_path, url, private_dovecot, sink), tmp_path / "mailbot.log")
    proc.start()
    try:
        time.sleep(2.5)
        private_dovecot.stop()  # IMAP gone mid-run
        sink.stop()  # and the SMTP server with it
        time.sleep(3)
        private_dovecot.start()
        private_dovecot.deliver_files(corpus[100:150])
        assert _cut_connections(url) >= 1  # every pooled connection of mailbot dies
        time.sleep(2)
        private_dovecot.change_uidvalidity("INBOX")  # new UIDs for what is still in INBOX
        private_dovecot.deliver_files(corpus[150:])
        sink.start()
        assert proc.alive(), proc.log_tail()
        assert wait_until(lambda: settled(url, private_dovecot, MESSAGES), 150), proc.log_tail()
        assert proc.terminate() == 0, proc.log_tail()
    finally:
        proc.ensure_stopped()
    log = proc.log_tail(10**7)
    assert "intake failed" in log or "imap" in log
    figures = referee(Figures(messages=MESSAGES), url, private_dovecot, sink)
    assert figures.problems(max_doubles=0) == [], figures.as_dict()


def _deferred(url: str) -> tuple[int, int]:
    """(mails deferred after a failed attempt, mails sent) in the outbox."""
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            retrying = (Outbox.status == "pending") & (Outbox.attempts > 0)
            deferred = db.scalar(select(func.count()).select_from(Outbox).where(retrying))
            sent = db.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "sent"))
            return int(deferred or 0), int(sent or 0)
    except Exception:  # not migrated yet
        return 0, 0
    finally:
        engine.dispose()


def test_smtp_relay_down_while_mail_flows_defers_then_delivers_each_once(
    tmp_path: Path, private_dovecot: DovecotServer, sink: SmtpSink
) -> None:
    """The relay refuses connections while tickets open: every mail takes the retry path (a
    deferred row with its attempt counted and its error kept), none is lost or given up, and
    once the relay is back each is delivered exactly once, by the backoff alone."""
    url = f"sqlite:///{tmp_path / 'mailbot.db'}"
    messages = 40
    sink.stop()
    private_dovecot.deliver_files(fault_corpus(messages, seed=5))
    env = run_env(tmp_path, url, private_dovecot, sink, {"MAILBOT_SMTP__RETRY_FIRST_SECONDS": "2"})
    proc = MailbotProcess(env, tmp_path / "mailbot.log")
    proc.start()
    try:
        assert wait_until(lambda: _deferred(url)[0] >= messages, 60), proc.log_tail()
        assert _deferred(url)[1] == 0 and sink.messages == []
        time.sleep(3)  # a second round of retries fails too: the attempts keep counting
        sink.start()
        assert wait_until(lambda: settled(url, private_dovecot, messages), 60), proc.log_tail()
        assert proc.terminate() == 0, proc.log_tail()
    finally:
        proc.ensure_stopped()
    log = proc.log_tail(10**7)
    assert "send deferred" in log and "gave up" not in log
    figures = referee(Figures(messages=messages), url, private_dovecot, sink)
    assert figures.problems(max_doubles=0) == [], figures.as_dict()
    assert figures.delivered == figures.outbox_sent >= messages
