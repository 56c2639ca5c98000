"""Graceful stop (issue 13): SIGTERM to a real ``mailbot run`` in the middle of a batch finishes the
message in hand, exits 0 within seconds (not after the whole backlog), and a restart finishes the
rest with nothing lost or doubled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from mailbot.adapters.db.models import RawMessage
from tests.support.dovecot import DovecotServer
from tests.support.faults import Figures, MailbotProcess, fault_corpus, referee, run_env, settled, wait_until
from tests.support.smtp_sink import SmtpSink

MESSAGES = 300

pytestmark = [pytest.mark.slow, pytest.mark.dovecot]


def _processed(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            return (
                db.scalar(select(func.count()).select_from(RawMessage).where(RawMessage.state == "processed"))
                or 0
            )
    except Exception:  # not migrated yet
        return 0
    finally:
        engine.dispose()


def test_sigterm_mid_batch_finishes_the_message_in_hand_and_exits_0(
    tmp_path: Path, private_dovecot: DovecotServer, sink: SmtpSink
) -> None:
    url = f"sqlite:///{tmp_path / 'mailbot.db'}"
    private_dovecot.deliver_files(fault_corpus(MESSAGES, seed=5))
    proc = MailbotProcess(run_env(tmp_path, url, private_dovecot, sink), tmp_path / "mailbot.log")
    proc.start()
    try:
        assert wait_until(lambda: _processed(url) >= 20, 60, 0.05), proc.log_tail()
        asked = time.monotonic()
        status = proc.terminate(timeout=30)
        took = time.monotonic() - asked
        assert status == 0, proc.log_tail()
        assert took < 10, f"SIGTERM took {took:.1f}s: it worked through the backlog first"
        done_at_stop = _processed(url)
        assert done_at_stop < MESSAGES, "stopped only after everything: the stop was not mid-batch"
        assert "mailbot stopped" in proc.log_tail(20000)
        proc.start()  # the rest on the next start
        assert wait_until(lambda: settled(url, private_dovecot, MESSAGES), 90), proc.log_tail()
        assert proc.terminate() == 0
    finally:
        proc.ensure_stopped()
    figures = referee(Figures(messages=MESSAGES), url, private_dovecot, sink)
    assert figures.problems(max_doubles=0) == []
