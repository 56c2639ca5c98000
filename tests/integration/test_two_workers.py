"""Two real worker processes on one PostgreSQL: every stored message on exactly one ticket, one
acknowledgement each (issue 10's reliability bug: ``load_raw`` was a plain get, so two workers
opened two tickets and sent two acknowledgements).

500 messages are ingested first (stage one), so both workers start on the same pending rows at
once; then two ``mailbot fetch --once`` processes race over them and over the outbox (each drains
it after its pass). The database is the referee: ``claim`` locks a row with ``FOR UPDATE SKIP
LOCKED`` and re-checks its state, and a unique index refuses a second processed copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from mailbot.adapters.db.models import Message, Outbox, RawMessage, Ticket
from mailbot.adapters.maildir import MaildirSource, ensure_maildir
from mailbot.adapters.maildir_sender import deliver_to_maildir
from mailbot.bootstrap import build_app
from mailbot.config import load_settings
from mailbot.services.ingest import ingest
from tests.support.app import REPO, mailbot_env
from tests.support.mail import make_mail

MESSAGES = int(os.environ.get("TWO_WORKERS_N", "500"))
TIME_LIMIT = int(
    os.environ.get("TWO_WORKERS_LIMIT", "240")
)  # seconds per worker (500 messages take ~20 s here)


def _workers(env: dict[str, str], log_dir: Path, *args: str) -> list[dict[str, int]]:
    """Start two ``mailbot`` processes with the same arguments at once and wait for both.

    Their output goes to files, not pipes: a worker blocked on a full stderr pipe while holding a
    row lock would stall the other worker too, and the test would measure its own plumbing.
    """
    cmd = [sys.executable, "-m", "mailbot.cli", *args]
    procs = []
    for n in range(2):
        out = (log_dir / f"{args[0]}-{n}.out").open("w+")
        err = (log_dir / f"{args[0]}-{n}.err").open("w+")
        procs.append((subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=err), out, err))
    results = []
    for proc, out, err in procs:
        try:
            proc.wait(timeout=TIME_LIMIT)
        except subprocess.TimeoutExpired:
            for p, _, _ in procs:
                p.kill()
            pytest.fail(f"a worker did not finish `{' '.join(args)}` within {TIME_LIMIT} s")
        out.seek(0)
        err.seek(0)
        assert proc.returncode == 0, err.read()[-2000:]
        results.append(json.loads(out.read().strip().splitlines()[-1]))
        out.close()
        err.close()
    return results


def test_two_workers_process_each_stored_message_once(
    tmp_path: Path, postgres_database: str, clock: object
) -> None:
    from tests.support.db import truncate_all

    truncate_all(postgres_database)
    env = {**os.environ, **mailbot_env(tmp_path, postgres_database)}
    inbox = tmp_path / "storage" / "inbox"
    ensure_maildir(inbox)
    for i in range(MESSAGES):
        subject = "Klacht over de factuur" if i % 3 == 0 else f"Vraag over training {i}"
        deliver_to_maildir(
            inbox, make_mail(sender=f"klant{i}@example.nl", name=f"Klant {i}", subject=subject)
        )

    settings = load_settings(None, env)
    app = build_app(settings, clock=clock)  # type: ignore[arg-type]
    try:
        stored = ingest(MaildirSource(inbox), app.database, app.clock, read=app.processor.read)
    finally:
        app.close()
    assert stored.fetched == MESSAGES

    processed = _workers(env, tmp_path, "fetch", "--once", "--json")
    assert sum(r["tickets_opened"] for r in processed) == MESSAGES
    assert all(r["tickets_opened"] > 0 for r in processed), f"one worker did all the work: {processed}"

    # ``fetch --once`` drains the outbox after its pass; a second send finds nothing left.
    leftover = _workers(env, tmp_path, "send", "--once", "--json")
    assert sum(r["sent"] for r in leftover) == 0, leftover

    engine = create_engine(postgres_database)
    try:
        with engine.connect() as db:
            assert (
                db.scalar(select(func.count()).select_from(RawMessage).where(RawMessage.state != "processed"))
                == 0
            )
            per_raw = Counter(db.scalars(select(Message.raw_message_id).where(Message.direction == "in")))
            assert len(per_raw) == MESSAGES and set(per_raw.values()) == {1}
            assert db.scalar(select(func.count()).select_from(Ticket)) == MESSAGES
            acks = Counter(
                db.scalars(
                    select(Outbox.ticket_id).where(Outbox.purpose.like("ack%"), Outbox.status == "sent")
                )
            )
            assert len(acks) == MESSAGES and set(acks.values()) == {1}
            sent_rows = db.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "sent"))
    finally:
        engine.dispose()
    delivered = list((tmp_path / "storage" / "sent" / "new").iterdir())
    assert len(delivered) == sent_rows  # every outgoing row delivered once, none twice
