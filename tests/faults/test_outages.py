"""Outages (issue 13) under a real ``mailbot run`` on PostgreSQL: Dovecot stopped and restarted,
the SMTP server down for a while, UIDVALIDITY changed under mailbot (the folder rebuilt with new
UIDs), and mailbot's own database connections cut (``pg_terminate_backend`` on its private
database: the shared server itself is never restarted). mailbot logs, reconnects by itself and
ends with every message stored once, processed, moved, and every mail delivered once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

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
