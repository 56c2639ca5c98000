"""The Maildir source (the embedded default) honours ``processing.max_message_bytes`` like IMAP:
the over-size file is quarantined with its first 64 KB read, never whole, and stays in ``cur/``."""

from __future__ import annotations

from pathlib import Path

from mailbot.bootstrap import App
from mailbot.services.ingest import TOO_LARGE
from mailbot.services.pipeline import run_pass
from mailbot.services.ports import OVERSIZE_PREFIX_BYTES
from tests.support.app import make_app
from tests.support.fakes import keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store

LIMIT = 200_000


def deliver(app: App, name: str, raw: bytes) -> None:
    new = app.settings.storage.inbox_dir / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / name).write_bytes(raw)


def test_over_size_file_is_quarantined_and_kept(tmp_path: Path, database_url: str, clock) -> None:
    app = make_app(
        tmp_path,
        database_url,
        clock,
        classifier=keyword_classifier,
        MAILBOT_PROCESSING__MAX_MESSAGE_BYTES=str(LIMIT),
    )
    try:
        big = make_mail(subject="Klacht", body="klacht\n" + "x" * 76 * 4000)
        assert len(big) > LIMIT
        deliver(app, "1.big", big)
        deliver(app, "2.small", make_mail(sender="b@example.nl", subject="Vraag"))
        source = app.source()
        summary = run_pass(source, app.database, app.processor, app.clock)
        assert (summary.fetched, summary.tickets_opened, summary.quarantined) == (2, 1, 0)
        [entry] = app.views.quarantine()
        assert entry.error == TOO_LARGE and "max_message_bytes" in entry.detail
        with open_store(app) as store:
            stored = store.load_raw(entry.raw_id)
            assert stored is not None
            assert stored.raw == big[:OVERSIZE_PREFIX_BYTES]
        cur = sorted(p.name for p in (app.settings.storage.inbox_dir / "cur").iterdir())
        assert [name.split(":")[0] for name in cur] == ["1.big", "2.small"]
        assert (app.settings.storage.inbox_dir / "cur" / cur[0]).read_bytes() == big  # kept whole
    finally:
        app.close()
