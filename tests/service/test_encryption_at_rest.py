"""No plaintext personal data at rest (R-D1, R-D2): the raw database holds none of a message's
subject, body words, sender address, name or attachment bytes — on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store

SECRETS = {
    "subject": "Klacht Zonnebloemveld",
    "body": "Mijn coach Quirijnstraat was onbeschoft tegen mij",
    "sender": "henriette.oosterbeek@voorbeeldmail.nl",
    "name": "Henriette Oosterbeek",
    "attachment": b"PDFSECRET-7f3a9c-bijlage-inhoud",
    "filename": "medisch-dossier-oosterbeek.pdf",
}
NEEDLES = [
    b"Zonnebloemveld",
    b"Quirijnstraat",
    b"onbeschoft",
    b"oosterbeek",
    b"Oosterbeek",
    b"voorbeeldmail",
    b"PDFSECRET-7f3a9c",
    b"medisch-dossier",
]


def _ingest_secret_message(tmp_path: Path, database_url: str, clock) -> None:
    app = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    source = MemorySource()
    source.add(
        make_mail(
            sender=SECRETS["sender"],
            name=SECRETS["name"],
            subject=SECRETS["subject"],
            body=SECRETS["body"],
            attachments=[(SECRETS["filename"], "application/pdf", SECRETS["attachment"])],
        ),
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    summary = run_pass(source, app.database, app.processor, app.clock)
    assert summary.tickets_opened == 1
    # The data is really there (decryptable), so finding nothing below means it is sealed, not missing.
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        assert store.ticket_subject(ticket) == SECRETS["subject"]
        [message] = [m for m in store.messages_of(ticket) if m.direction == "in"]
        assert store.attachments_of(message)[0][2] == SECRETS["attachment"]
    app.close()


def _database_bytes(database_url: str) -> bytes:
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))  # db, -wal, -shm
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    chunks: list[bytes] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode("utf-8"))
    engine.dispose()
    return b"\n".join(chunks)


def test_no_plaintext_personal_data_in_the_database(tmp_path: Path, database_url: str, clock) -> None:
    _ingest_secret_message(tmp_path, database_url, clock)
    dump = _database_bytes(database_url)
    assert len(dump) > 1000  # the scan really read the stored rows
    found = [needle for needle in NEEDLES if needle in dump or needle.lower() in dump.lower()]
    assert found == []
