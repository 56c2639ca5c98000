"""A large message (under ``processing.max_message_bytes``) is fetched, stored, processed and its
attachment stored without holding many copies of it at once (issue 15: peak RSS under 200 MB
whatever the attachment size). The bound is on Python's own allocations (tracemalloc), not time:
the IMAP read, the fingerprint, sealing, the MIME tree and the attachment's decoding together
once peaked at about 7x the message, and must stay under 4.5x. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import random
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Attachment
from mailbot.bootstrap import App, build_app
from mailbot.config import load_settings
from tests.integration.test_ingest_imap import fetch
from tests.support.app import mailbot_env
from tests.support.dovecot import DovecotServer
from tests.support.fakes import keyword_classifier
from tests.support.store import open_store

SIZE = 10_000_000


def large_mail(size: int) -> bytes:
    """A complaint with one base64 attachment of random bytes, ``size`` bytes in all."""
    head = (
        b"From: Jan Jansen <jan.jansen@example.nl>\r\nTo: info@ordevos.nl\r\n"
        b"Subject: Klacht met scan\r\nMessage-ID: <large@example.nl>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nMijn pakket is beschadigd, zie de scan.\r\n"
        b"--b\r\nContent-Type: application/pdf; name=scan.pdf\r\n"
        b"Content-Disposition: attachment; filename=scan.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    tail = b"\r\n--b--\r\n"
    data = random.Random(15).randbytes((size - len(head) - len(tail)) * 57 // 78)
    return head + base64.encodebytes(data).replace(b"\n", b"\r\n") + tail


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, imap: DovecotServer) -> App:
    env = mailbot_env(
        tmp_path,
        database_url,
        {
            "MAILBOT_IMAP__HOST": "127.0.0.1",
            "MAILBOT_IMAP__PORT": str(imap.port),
            "MAILBOT_IMAP__SECURITY": "plain",
            "MAILBOT_IMAP__USERNAME": imap.user,
            "MAILBOT_IMAP__PASSWORD": imap.password,
        },
    )
    application = build_app(load_settings(None, env), clock=clock, classifier=keyword_classifier)
    yield application
    application.close()


def test_a_ten_megabyte_message_is_handled_in_few_copies(app: App, imap: DovecotServer) -> None:
    raw = large_mail(SIZE)
    assert len(raw) < app.settings.processing.max_message_bytes
    imap.append(raw)

    tracemalloc.start()
    try:
        summary = fetch(app)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert summary.fetched == 1 and summary.tickets_opened == 1 and summary.quarantined == 0
    assert peak < 4.5 * len(raw), f"peak Python allocation {peak / len(raw):.1f}x the message"
    with open_store(app) as store:
        assert len(store.all_tickets()) == 1
        sizes = list(store.session.scalars(select(Attachment.size)))
    assert sizes == [len(base64.decodebytes(raw[raw.index(b"base64\r\n\r\n") + 10 :].split(b"--b--")[0]))]
    assert imap.uids("INBOX") == []
