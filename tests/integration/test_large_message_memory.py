"""A large message (under ``processing.max_message_bytes``) is fetched, stored, processed and its
attachment stored without holding many copies of it at once (issue 15: peak RSS under 200 MB
whatever the attachment size). The bound is on Python's own allocations (tracemalloc), not time:
the IMAP read, the fingerprint, sealing, the MIME tree and the attachment's decoding together
once peaked at about 7x the message, and must stay under 4.5x. SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import random

from sqlalchemy import select

from mailbot.adapters.db.models import Attachment
from mailbot.bootstrap import App
from tests.integration.test_ingest_imap import app, fetch  # noqa: F401  (app: the IMAP app fixture)
from tests.support.dovecot import DovecotServer
from tests.support.memory import python_peak
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


def test_a_ten_megabyte_message_is_handled_in_few_copies(app: App, imap: DovecotServer) -> None:  # noqa: F811
    raw = large_mail(SIZE)
    assert len(raw) < app.settings.processing.max_message_bytes
    imap.append(raw)

    summary, peak = python_peak(lambda: fetch(app))

    assert summary.fetched == 1 and summary.tickets_opened == 1 and summary.quarantined == 0
    assert peak < 4.5 * len(raw), f"peak Python allocation {peak / len(raw):.1f}x the message"
    with open_store(app) as store:
        assert len(store.all_tickets()) == 1
        sizes = list(store.session.scalars(select(Attachment.size)))
    assert sizes == [len(base64.decodebytes(raw[raw.index(b"base64\r\n\r\n") + 10 :].split(b"--b--")[0]))]
    assert imap.uids("INBOX") == []
