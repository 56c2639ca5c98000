"""kill -9 figures (issue 13): ``mailbot run`` SIGKILLed at seeded moments over N messages.

The same harness as ``tests/faults/test_kill9.py`` (tests/support/faults.py): a private Dovecot,
an aiosmtpd sink on loopback, ``mailbot run`` as a child process killed and restarted ``--kills``
times, then stopped with SIGTERM. Prints kills, messages, lost, doubled tickets, doubled mails,
quarantined, elapsed seconds, the mailbot process's peak RSS and the core count, per backend.

    .venv/bin/python bench/kill9.py [--messages 1000] [--kills 10] [--seed 13] [--backend B]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PG_ADMIN = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        db.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rpartition("/")[0] + "/" + name


def drop_pg(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def one(backend: str, messages: int, kills: int, seed: int) -> dict[str, object]:
    from tests.support.dovecot import DovecotServer
    from tests.support.faults import kill9_run
    from tests.support.smtp_sink import SmtpSink

    root = Path(tempfile.mkdtemp(prefix="k9b", dir="/tmp"))
    name = f"mailbot_k9_{os.getpid()}"
    url = f"sqlite:///{root / 'mailbot.db'}" if backend == "sqlite" else pg_database(name)
    parent = "/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp"
    try:
        with DovecotServer(parent=parent) as imap, SmtpSink() as sink:
            figures, _ = kill9_run(root, url, imap, sink, messages=messages, kills=kills, seed=seed)
    finally:
        if backend != "sqlite":
            drop_pg(name)
        shutil.rmtree(root, ignore_errors=True)
    lost = max(0, figures.messages - figures.stored) + figures.unprocessed + figures.never_delivered
    return {
        "backend": backend,
        "messages": figures.messages,
        "kills": figures.kills,
        "lost": lost,
        "doubled_tickets": figures.doubled_tickets,
        "doubled_mails": figures.doubled_acks,
        "mails_delivered": figures.delivered,
        "quarantined": figures.quarantined,
        "integrity": figures.integrity,
        "problems": figures.problems(max_doubles=figures.kills),
        "elapsed_s": figures.elapsed,
        "peak_rss_mib": figures.peak_rss_mib,
        "cores": figures.cores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(json.dumps(one(backend, args.messages, args.kills, args.seed)), flush=True)


if __name__ == "__main__":
    main()
