"""Ingest against a real private Dovecot: exactly once, through crashes, drops and UIDVALIDITY changes.

R-A1 (INTERNALDATE is the receipt time), R-C16 (UIDVALIDITY), R-C17 (commit, then move), R-C18.
Storage runs on SQLite and PostgreSQL (``database_url``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Outbox, RawMessage
from mailbot.adapters.imap import ImapSource, SourceError
from mailbot.bootstrap import App
from mailbot.services.pipeline import run_pass
from mailbot.services.ports import IncomingMessage
from tests.support.app import make_app
from tests.support.dovecot import DovecotServer
from tests.support.fakes import keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "realworld"


def imap_app(tmp_path: Path, database_url: str, clock, server: DovecotServer, **env: str) -> App:
    return make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        MAILBOT_IMAP__HOST="127.0.0.1",
        MAILBOT_IMAP__PORT=str(server.port),
        MAILBOT_IMAP__SECURITY="plain",
        MAILBOT_IMAP__USERNAME=server.user,
        MAILBOT_IMAP__PASSWORD=server.password,
        **env,
    )


def fetch(app: App, source=None):
    source = source or app.source()
    try:
        return run_pass(source, app.database, app.processor, app.clock)
    finally:
        source.close()


def refs(app: App) -> list[str]:
    with open_store(app) as store:
        return [t.ref for t in store.all_tickets()]


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, imap: DovecotServer) -> App:
    application = imap_app(tmp_path, database_url, clock, imap)
    yield application
    application.close()


def test_new_messages_become_tickets_and_move_after_commit(app: App, imap: DovecotServer) -> None:
    """R-A1: received_at is the INTERNALDATE, whatever the Date header says.

    R-C17/R-C18: moved to the processed folder only after the commit."""
    internal = datetime(2026, 3, 31, 21, 59, 30, tzinfo=UTC)  # 23:59:30 in Amsterdam (case 7)
    imap.append(make_mail(subject="Klacht", date=datetime(2026, 3, 30, 9, tzinfo=UTC)), internaldate=internal)
    imap.append(make_mail(sender="b@example.nl", subject="Vraag"), internaldate=internal)
    summary = fetch(app)
    assert (summary.fetched, summary.tickets_opened) == (2, 2)
    with open_store(app) as store:
        assert {t.received_at for t in store.all_tickets()} == {internal}
    assert imap.uids("INBOX") == []
    assert len(imap.uids("Processed")) == 2
    assert fetch(app).fetched == 0


def test_reply_to_acknowledgement_threads_even_with_untouched_subject(app: App, imap: DovecotServer) -> None:
    imap.append(make_mail(subject="Vraag over mijn factuur", message_id="<orig@example.nl>"))
    fetch(app)
    with open_store(app) as store:
        ack_id = store.session.scalar(select(Outbox.message_id).where(Outbox.purpose == "acknowledgement"))
    assert ack_id
    # The customer presses "reply" on the acknowledgement and leaves everything as it is.
    imap.append(
        make_mail(
            subject="Re: Vraag over mijn factuur",
            in_reply_to=ack_id,
            references=f"<orig@example.nl> {ack_id}",
        )
    )
    summary = fetch(app)
    assert summary.appended == 1 and summary.tickets_opened == 0
    assert len(refs(app)) == 1


class CrashBeforeMove(ImapSource):
    """Dies between the commit and the move, like a process killed at the worst moment."""

    def done(self, messages: Sequence[IncomingMessage]) -> None:
        raise RuntimeError("killed before the move")


def test_refetch_after_crash_before_move_is_not_a_duplicate_ticket(app: App, imap: DovecotServer) -> None:
    """Case 40: the message stays unmoved, is fetched again, and is processed exactly once."""
    imap.append(make_mail(subject="Klacht"))
    s = app.settings.imap
    crashing = CrashBeforeMove(
        host=s.host,
        port=s.port,
        security="plain",
        username=s.username,
        password=s.password.get_secret_value() if s.password else "",
        folder=s.folder,
        processed_folder=s.processed_folder,
    )
    with pytest.raises(RuntimeError):
        fetch(app, crashing)
    assert len(imap.uids("INBOX")) == 1  # still there: not moved
    summary = fetch(app)
    # Seen again but stored already: the same bytes are a no-op; the stored copy is processed once.
    assert summary.fetched == 1 and summary.duplicates == 1
    assert len(refs(app)) == 1
    assert fetch(app).fetched == 0
    assert imap.uids("INBOX") == []


def test_uidvalidity_change_resyncs_without_duplicate_tickets(
    tmp_path: Path, database_url: str, clock, imap: DovecotServer
) -> None:
    """R-C16 / case 39: with after=flag the messages stay; a new UIDVALIDITY refetches all, no new tickets."""
    app = imap_app(tmp_path, database_url, clock, imap, MAILBOT_IMAP__AFTER="flag")
    for i in range(3):
        imap.append(make_mail(sender=f"p{i}@example.nl", subject=f"Vraag {i}"))
    assert fetch(app).tickets_opened == 3
    assert fetch(app).fetched == 0  # the cursor remembers
    imap.change_uidvalidity()
    summary = fetch(app)
    assert summary.fetched == 3 and summary.duplicates == 3 and summary.tickets_opened == 0
    assert len(refs(app)) == 3
    app.close()


def test_connection_dropped_mid_batch_loses_and_doubles_nothing(
    tmp_path: Path, database_url: str, clock, imap: DovecotServer
) -> None:
    app = imap_app(tmp_path, database_url, clock, imap, MAILBOT_IMAP__BATCH_SIZE="2")
    for i in range(6):
        imap.append(make_mail(sender=f"p{i}@example.nl", subject=f"Vraag {i}"))
    source = app.source()
    from mailbot.services.ingest import ingest

    with pytest.raises(SourceError):
        ingest(
            source,
            app.database,
            app.clock,
            read=app.processor.read,
            on_batch=lambda report: imap.kill_connections(),
        )
    source.close()
    with open_store(app) as store:
        stored_before = store.count_raw()
    assert 2 <= stored_before < 6
    summary = fetch(app)
    assert summary.tickets_opened == 6
    with open_store(app) as store:
        assert store.count_raw() == 6
    assert imap.uids("INBOX") == []
    app.close()


def test_attachments_survive_the_trip(app: App, imap: DovecotServer) -> None:
    content = bytes(range(256)) * 40
    imap.append(make_mail(subject="Bijlage", attachments=[("scan.bin", "application/octet-stream", content)]))
    fetch(app)
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        [inbound] = [m for m in store.messages_of(ticket) if m.direction == "in"]
        assert store.attachments_of(inbound) == [("scan.bin", "application/octet-stream", content)]


def test_whole_realworld_corpus_ends_as_ticket_duplicate_or_quarantine(app: App, imap: DovecotServer) -> None:
    """Nothing lost: every one of the real, messy messages is accounted for, and nothing crashes."""
    files = sorted(REALWORLD.rglob("*.eml"))
    assert len(files) > 700
    imap.deliver_files(f.read_bytes() for f in files)
    summary = fetch(app)
    assert summary.fetched == len(files)
    accounted = (
        summary.tickets_opened
        + summary.appended
        + summary.automated
        + summary.duplicates
        + summary.quarantined
    )
    assert accounted == len(files), summary
    with open_store(app) as store:
        states = list(store.session.scalars(select(RawMessage.state)))
    assert set(states) <= {"processed", "quarantined"}
    assert imap.uids("INBOX") == []
