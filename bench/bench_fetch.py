"""Benchmark: ``fetch --once`` over N messages in a private Dovecot, on SQLite and PostgreSQL.

Prints messages per second (ingest + process + acknowledgement queued, end to end) and the peak
resident memory of the process that did the work, plus the machine's core count.

    .venv/bin/python bench/bench_fetch.py [--messages 2000] [--backend sqlite|postgresql|both]

Each backend runs in its own child process so the peak memory figure is that backend's alone.
The messages are the labelled corpus, cycled, each made unique by its own Message-ID and sender.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LABELLED = REPO.parent / "shared" / "corpus" / "labelled"
PG_ADMIN = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def corpus(n: int) -> list[bytes]:
    files = sorted(LABELLED.glob("*.eml"))
    out = []
    for i in range(n):
        raw = files[i % len(files)].read_bytes()
        raw = re.sub(
            rb"(?im)^Message-ID:.*$", f"Message-ID: <bench-{i}@bench.example>".encode(), raw, count=1
        )
        raw = re.sub(
            rb"(?im)^From:.*$", f"From: Bench {i % 400} <b{i % 400}@bench.example>".encode(), raw, count=1
        )
        out.append(raw)
    return out


def run_child(backend: str, n: int) -> dict:
    from sqlalchemy import create_engine, text

    from mailbot.bootstrap import build_app
    from mailbot.config import load_settings
    from mailbot.services.pipeline import run_pass
    from tests.support.dovecot import DovecotServer

    tmp = Path(tempfile.mkdtemp(prefix="mbbench"))
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'mailbot.db'}"
    else:
        name = f"mailbot_bench_{os.getpid()}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN.rpartition("/")[0] + "/" + name
    server = DovecotServer()
    server.start()
    try:
        server.deliver_files(corpus(n))
        from mailbot.adapters.crypto import generate_secret

        env = {
            "MAILBOT_STORAGE__DIR": str(tmp / "storage"),
            "MAILBOT_STORAGE__DATABASE_URL": url,
            "MAILBOT_MASTER_KEY": generate_secret(),
            "MAILBOT_RULES__DIR": str(REPO / "mailbot" / "defaults" / "rules"),
            "MAILBOT_TEMPLATES__DIR": str(REPO / "mailbot" / "defaults" / "templates"),
            "MAILBOT_IMAP__HOST": "127.0.0.1",
            "MAILBOT_IMAP__PORT": str(server.port),
            "MAILBOT_IMAP__SECURITY": "plain",
            "MAILBOT_IMAP__USERNAME": server.user,
            "MAILBOT_IMAP__PASSWORD": server.password,
            "MAILBOT_PROCESSING__AUTO_REPLY_CAP_PER_DAY": "1000",
        }
        app = build_app(load_settings(None, env))
        source = app.source()
        start = time.perf_counter()
        summary = run_pass(source, app.database, app.processor, app.clock)
        elapsed = time.perf_counter() - start
        source.close()
        app.close()
    finally:
        server.cleanup()
        if backend != "sqlite":
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return {
        "backend": backend,
        "messages": summary.fetched,
        "seconds": round(elapsed, 2),
        "messages_per_second": round(summary.fetched / elapsed, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "summary": summary.as_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.backend, args.messages)))
        return
    print(f"cores: {os.cpu_count()}  python: {sys.version.split()[0]}  messages: {args.messages}")
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--backend", backend, "--messages", str(args.messages)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"{backend}: FAILED\n{out.stderr[-2000:]}")
            continue
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{backend:<11} {result['messages_per_second']:>8} msg/s  ({result['messages']} in "
            f"{result['seconds']} s)  peak RSS {result['peak_rss_mib']} MiB  {result['summary']}"
        )


if __name__ == "__main__":
    main()
