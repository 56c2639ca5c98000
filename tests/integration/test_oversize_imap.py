"""A message over ``processing.max_message_bytes`` is quarantined at intake without being loaded
whole (issue 13): only its first 64 KB cross the wire, the rest of the batch is handled as usual,
and the whole message stays in the mailbox's processed folder. SQLite and PostgreSQL."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import RawMessage
from mailbot.bootstrap import App, build_app
from mailbot.config import load_settings
from mailbot.services.ingest import TOO_LARGE
from mailbot.services.ports import OVERSIZE_PREFIX_BYTES
from tests.integration.test_ingest_imap import fetch
from tests.support.app import mailbot_env, run_cli
from tests.support.dovecot import DovecotServer
from tests.support.fakes import keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store

FORTY_MB = 40 * 1024 * 1024


def big_mail(size: int) -> bytes:
    """A real-looking mail with one huge base64 attachment, ``size`` bytes in all."""
    head = (
        b"From: Jan Jansen <jan.jansen@example.nl>\r\nTo: info@ordevos.nl\r\n"
        b"Subject: Klacht met bijlage\r\nMessage-ID: <huge@example.nl>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nZie de bijlage.\r\n"
        b"--b\r\nContent-Type: application/octet-stream; name=scan.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    tail = b"\r\n--b--\r\n"
    line = b"QUJD" * 19 + b"\r\n"
    lines = (size - len(head) - len(tail)) // len(line)
    return head + line * lines + tail


@pytest.fixture
def env(tmp_path: Path, database_url: str, imap: DovecotServer) -> dict[str, str]:
    return mailbot_env(
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


@pytest.fixture
def app(env: dict[str, str], clock) -> App:
    application = build_app(load_settings(None, env), clock=clock, classifier=keyword_classifier)
    yield application
    application.close()


def test_forty_megabytes_are_quarantined_unread_and_the_rest_goes_on(app: App, imap: DovecotServer) -> None:
    assert app.settings.processing.max_message_bytes < FORTY_MB  # the embedded default applies
    imap.append(make_mail(subject="Vraag", message_id="<before@example.nl>"))
    imap.append(big_mail(FORTY_MB))
    imap.append(make_mail(sender="b@example.nl", subject="Klacht", message_id="<after@example.nl>"))

    tracemalloc.start()
    try:
        summary = fetch(app)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Loading it whole would take 40 MB at the least (and more to parse it).
    assert peak < 12 * 1024 * 1024, f"peak Python allocation {peak / 1e6:.1f} MB"
    assert summary.fetched == 3 and summary.tickets_opened == 2
    with open_store(app) as store:
        big = store.session.scalar(select(RawMessage).where(RawMessage.state == "quarantined"))
        assert big is not None and big.error_kind == TOO_LARGE
        assert big.size <= OVERSIZE_PREFIX_BYTES
    entries = app.views.quarantine()
    assert [e.error for e in entries] == [TOO_LARGE]
    assert "41.9 MB" in entries[0].detail and "max_message_bytes" in entries[0].detail
    # Nothing lost: the whole message sits in the processed folder; nothing is left to re-offer.
    assert imap.uids("INBOX") == []
    assert len(imap.uids("Processed")) == 3
    with imap.client() as client:
        client.select_folder("Processed", readonly=True)
        sizes = client.fetch(client.search(["ALL"]), ["RFC822.SIZE"])
    assert max(int(v[b"RFC822.SIZE"]) for v in sizes.values()) >= FORTY_MB - 100
    assert fetch(app).fetched == 0


def test_a_quarantined_fragment_is_not_retried_as_if_whole(
    app: App, env: dict[str, str], imap: DovecotServer
) -> None:
    imap.append(big_mail(FORTY_MB))
    fetch(app)
    [entry] = app.views.quarantine()
    code, output = run_cli(env, "quarantine", "retry", str(entry.id))
    assert code == 1
    assert "over processing.max_message_bytes and was not read whole" in output
    assert [e.id for e in app.views.quarantine()] == [entry.id]  # still there, untouched
    with open_store(app) as store:
        assert store.all_tickets() == []
