"""Hostile input through ingest + process on real storage (issue 13): each message ends as a
ticket, automated mail or a quarantine entry; none raises out of the pass, none takes long."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailbot.bootstrap import App
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.store import open_store

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
HEAD = b"From: Jan <jan@example.nl>\r\nTo: info@ordevos.nl\r\n"


def _many_parts(n: int) -> bytes:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(n))
    head = HEAD + b'Subject: Klacht\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    return head + parts + b"--b--\r\n"


def _nested(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\nklacht diep genest\r\n"
    for level in range(depth):
        body = (
            b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (level, level)
            + body
            + b"\r\n--n%d--\r\n" % level
        )
    return HEAD + b"Subject: Klacht\r\n" + body


HOSTILE = {
    "10000 parts": _many_parts(10_000),
    "nesting 200": _nested(200),
    "1 MB header line": HEAD + b"Subject: Klacht " + b"a" * 1_000_000 + b"\r\n\r\nbody\r\n",
    "unknown charset": HEAD
    + b"Subject: =?x-unknown-42?Q?Klacht?=\r\n"
    + b"Content-Type: text/plain; charset=x-unknown-42\r\n\r\n\xff\xfe klacht\r\n",
    "encoded CRLF in subject": HEAD
    + b"Subject: =?utf-8?Q?Klacht=0D=0ABcc:_evil@example.com?=\r\n\r\nklacht\r\n",
    "encoded CRLF in name": b"From: =?utf-8?B?SmFuDQpCY2M6IGV2aWxAZXhhbXBsZS5jb20=?= <jan@example.nl>\r\n"
    b"To: info@ordevos.nl\r\nSubject: Klacht\r\n\r\nklacht\r\n",
    "NULs": HEAD + b"Subject: Kla\x00cht\r\n\r\nkl\x00acht\r\n",
    "no blank line": HEAD + b"Subject: Klacht",
}


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> App:
    application = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    yield application
    application.close()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_message_ends_somewhere_with_a_reason_and_quickly(app: App, name: str) -> None:
    source = MemorySource()
    source.add(HOSTILE[name], RECEIVED)
    started = time.monotonic()
    summary = run_pass(source, app.database, app.processor, app.clock)
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"{name} took {elapsed:.1f}s"
    assert summary.fetched == 1
    handled = summary.tickets_opened + summary.appended + summary.automated + summary.duplicates
    assert handled + summary.quarantined == 1, summary
    with open_store(app) as store:
        quarantined = store.quarantined()
        assert all(store.raw_error(raw) for _, raw in quarantined)  # a reason with every entry
        for ticket in store.all_tickets():
            subject = store.ticket_subject(ticket)
            assert "\r" not in subject and "\n" not in subject and "\x00" not in subject
