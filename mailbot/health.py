"""Is the service healthy? For ``mailbot health`` and the container's HEALTHCHECK.

Three questions, each answered in one line: can the database be reached with the schema this
version needs, can the source be reached (IMAP login and folder, or the Maildir), and did the
running service finish an intake pass recently. The runner writes the time of its last
successful pass to ``storage/health/last-pass`` (a file, so a health check needs no write to the
database and works while the database is the thing that is down).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailbot.config import Settings
from mailbot.errors import plain_reason


def heartbeat_file(settings: Settings) -> Path:
    return settings.storage.dir / "health" / "last-pass"


def record_pass(settings: Settings, when: datetime) -> None:
    """Atomically replace the heartbeat (a crash mid-write leaves the previous one)."""
    path = heartbeat_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".last-pass.")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(when.astimezone(UTC).isoformat())
    os.replace(tmp, path)


def max_pass_age(settings: Settings) -> timedelta:
    """Three intake rounds and a minute of slack (an IDLE wait is ``imap.poll_seconds`` long; the
    embedded Maildir/listener loop goes round every second)."""
    interval = settings.imap.poll_seconds if settings.imap.enabled else 1
    return timedelta(seconds=3 * interval + 60)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database(settings: Settings) -> Check:
    from sqlalchemy.engine import make_url

    from mailbot.adapters.db.engine import make_engine
    from mailbot.adapters.db.migrate import current_revision, head_revision

    url = make_url(settings.storage.database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return Check("database", False, f"{url.database} does not exist (mailbot init creates it)")
    try:
        engine = make_engine(settings.storage.database_url)
        try:
            current, head = current_revision(engine), head_revision(engine)
        finally:
            engine.dispose()
    except Exception as exc:
        return Check("database", False, plain_reason(exc))
    if current != head:
        return Check("database", False, f"schema at {current or 'nothing'}, this version needs {head}")
    return Check("database", True, f"schema {head}")


def check_source(settings: Settings) -> Check:
    if not settings.imap.enabled:
        inbox = settings.storage.inbox_dir
        ok = (inbox / "new").is_dir()
        return Check("source", ok, f"Maildir {inbox}" + ("" if ok else " missing (mailbot init creates it)"))
    from mailbot.bootstrap import imap_source_of

    source = imap_source_of(settings)
    try:
        getattr(source, "check")()  # noqa: B009  (ImapSource has it; the Source port does not)
    except Exception as exc:
        return Check("source", False, str(exc) or plain_reason(exc))
    finally:
        source.close()
    return Check("source", True, f"IMAP {settings.imap.host}:{settings.imap.port} {settings.imap.folder}")


def check_last_pass(settings: Settings, now: datetime) -> Check:
    path = heartbeat_file(settings)
    try:
        last = datetime.fromisoformat(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return Check("intake", False, "no intake pass recorded yet (is mailbot run running?)")
    age = now - last
    limit = max_pass_age(settings)
    if age > limit:
        return Check(
            "intake",
            False,
            f"last pass {int(age.total_seconds())} s ago (limit {int(limit.total_seconds())} s)",
        )
    return Check("intake", True, f"last pass {int(age.total_seconds())} s ago")


def checks(settings: Settings, now: datetime, *, service: bool = True) -> list[Check]:
    found = [check_database(settings), check_source(settings)]
    if service:
        found.append(check_last_pass(settings, now))
    return found
