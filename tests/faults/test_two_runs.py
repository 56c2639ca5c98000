"""Two workers (issue 13): two ``mailbot run`` processes on one PostgreSQL, the same Dovecot
mailbox and the same SMTP server, over ``TWO_RUNS_N`` messages (700 by default to keep the fault
tests near 4 minutes; 1,000 passed in 69 s). Each message is stored once (the fingerprint's unique
index referees the race for a batch), processed once, moved once, and each outgoing mail delivered
exactly once (the outbox claim's SKIP LOCKED). tests/integration/test_two_workers.py covers
processing of 500 stored messages alone; this one adds the mailbox and the outbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.db import truncate_all
from tests.support.dovecot import DovecotServer
from tests.support.faults import Figures, MailbotProcess, fault_corpus, referee, run_env, settled, wait_until
from tests.support.smtp_sink import SmtpSink

MESSAGES = int(os.environ.get("TWO_RUNS_N", "700"))

pytestmark = [pytest.mark.slow, pytest.mark.dovecot, pytest.mark.postgres]


def test_two_runs_share_mailbox_and_outbox_without_doubles(
    tmp_path: Path, postgres_database: str, private_dovecot: DovecotServer, sink: SmtpSink
) -> None:
    url = postgres_database
    truncate_all(url)
    private_dovecot.deliver_files(fault_corpus(MESSAGES, seed=31))
    env = run_env(tmp_path, url, private_dovecot, sink)  # one master key for both
    workers = [MailbotProcess(env, tmp_path / f"worker{n}.log") for n in range(2)]
    for worker in workers:
        worker.start()
    try:
        ok = wait_until(lambda: settled(url, private_dovecot, MESSAGES), 150)
        assert ok, workers[0].log_tail() + workers[1].log_tail()
        assert [w.terminate() for w in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.ensure_stopped()
    figures = referee(Figures(messages=MESSAGES), url, private_dovecot, sink)
    assert figures.problems(max_doubles=0) == [], figures.as_dict()
    logs = [w.log_tail(10**7) for w in workers]
    assert all('"processed"' in log for log in logs), "one worker did all the work"
