"""Benchmark: the whole path, ``mailbot fetch --once`` then ``mailbot send --once`` (issue 15).

N messages of the realistic mix (``bench/mix.py``) are dropped into a private Dovecot; the real
CLI then fetches, stores, processes and queues, and drains the outbox to an aiosmtpd sink on
loopback. Each command is its own process, timed from spawn to exit (start-up and the text model
load included), with its peak RSS from ``wait4``. Printed beside it, measured in the same run on
the same messages:

* the bare download rate: imapclient ``FETCH BODY.PEEK[]`` of every message, 200 a command;
* optionally another code tree run back to back (``--baseline-tree``, e.g. a ``git archive`` of the
  branch's starting commit), on a fresh Dovecot and database with the same bytes.

    .venv/bin/python bench/bench_path.py --messages 2000 [--backend sqlite|postgresql]
        [--baseline-tree /tmp/mb-base] [--profile out.prof]

``--profile`` runs both stages in this process under cProfile instead (no subprocesses, no
timing figures worth quoting) and writes the stats file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
PG_ADMIN = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MASTER_KEY = "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmU="


def _deliver(server: Any, n: int, seed: int) -> int:
    from mix import Mix

    total = 0

    def counted() -> Any:
        nonlocal total
        for raw in Mix(seed).messages(n):
            total += len(raw)
            yield raw

    server.deliver_files(counted())
    return total


def bare_download(server: Any) -> tuple[int, float]:
    """imapclient alone: every message's bytes, 200 UIDs a FETCH (the adapter's batch size)."""
    client = server.client(timeout=120)
    try:
        start = time.perf_counter()
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        got = 0
        for i in range(0, len(uids), 200):
            got += len(client.fetch(uids[i : i + 200], ["BODY.PEEK[]"]))
        return got, time.perf_counter() - start
    finally:
        client.logout()


def _database(backend: str, tmp: Path, tag: str) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'mailbot.db'}", None
    from sqlalchemy import create_engine, text

    name = f"mailbot_bench_{tag}_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return PG_ADMIN.rpartition("/")[0] + "/" + name, drop


def _env(tree: Path, tmp: Path, url: str, server: Any, sink_port: int, model: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBOT_")}
    env.update(
        {
            "PYTHONPATH": str(tree),
            "MAILBOT_STORAGE__DIR": str(tmp / "storage"),
            "MAILBOT_STORAGE__DATABASE_URL": url,
            "MAILBOT_MASTER_KEY": MASTER_KEY,
            "MAILBOT_RULES__DIR": str(tree / "mailbot" / "defaults" / "rules"),
            "MAILBOT_TEMPLATES__DIR": str(tree / "mailbot" / "defaults" / "templates"),
            "MAILBOT_MODEL__FILE": str(model),
            "MAILBOT_MODEL__CORPUS": str(tree / "corpus"),
            "MAILBOT_IMAP__HOST": "127.0.0.1",
            "MAILBOT_IMAP__PORT": str(server.port),
            "MAILBOT_IMAP__SECURITY": "plain",
            "MAILBOT_IMAP__USERNAME": server.user,
            "MAILBOT_IMAP__PASSWORD": server.password,
            "MAILBOT_SMTP__HOST": "127.0.0.1",
            "MAILBOT_SMTP__PORT": str(sink_port),
            "MAILBOT_SMTP__SECURITY": "plain",
            "MAILBOT_LISTENER__ENABLED": "false",
            "MAILBOT_PROCESSING__AUTO_REPLY_CAP_PER_DAY": "1000",
        }
    )
    return env


def _timed(env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, stdout) of one ``mailbot`` command run as its own process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailbot.cli", *args],
            env=env,
            stdout=out,
            stderr=err,
            cwd=env["PYTHONPATH"],
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"mailbot {' '.join(args)} failed:\n{err.read().decode()[-3000:]}")
        return elapsed, usage.ru_maxrss / 1024, out.read().decode()


def run_tree(tree: Path, backend: str, n: int, seed: int, tag: str) -> dict[str, Any]:
    from tests.support.dovecot import DovecotServer
    from tests.support.smtp_sink import SmtpSink

    tmp = Path(tempfile.mkdtemp(prefix="mbpath"))
    model = Path(tempfile.gettempdir()) / f"mbpath-model-{tag}.npz"
    url, drop = _database(backend, tmp, tag)
    server = DovecotServer()
    sink = SmtpSink().start()
    server.start()
    try:
        size = _deliver(server, n, seed)
        downloaded, bare_s = bare_download(server)
        env = _env(tree, tmp, url, server, sink.port, model)
        _timed(env, "init")
        fetch_s, fetch_rss, fetch_out = _timed(env, "fetch", "--once", "--json")
        send_s, send_rss, sends = 0.0, 0.0, 0
        while True:  # each drain sends at most 1,000 rows (``fetch --once`` drained once already)
            seconds, rss, send_out = _timed(env, "send", "--once", "--json")
            send_s, send_rss, sends = send_s + seconds, max(send_rss, rss), sends + 1
            if json.loads(send_out.strip().splitlines()[-1])["sent"] == 0:
                break
        delivered = len(sink.messages)
    finally:
        sink.stop()
        server.cleanup()
        if drop:
            drop()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = json.loads(fetch_out.strip().splitlines()[-1])
    return {
        "tree": str(tree),
        "messages": n,
        "mebibytes": round(size / 2**20, 1),
        "bare_download_per_s": round(downloaded / bare_s, 1),
        "fetch_s": round(fetch_s, 2),
        "send_s": round(send_s, 2),
        "path_per_s": round(n / (fetch_s + send_s), 1),
        "fetch_per_s": round(n / fetch_s, 1),
        "send_mails_per_s": round(delivered / send_s, 1) if send_s else 0,
        "peak_rss_mib": {"fetch": round(fetch_rss, 1), "send": round(send_rss, 1)},
        "summary": summary,
        "send_commands": sends,
        "delivered_at_sink": delivered,
    }


def profile(backend: str, n: int, seed: int, out: str) -> None:
    """Both stages in this process under cProfile (for where the time goes, not for figures);
    ``--profile -`` times ingest, process and send apart instead, without the profiler."""
    import cProfile

    from mailbot.bootstrap import build_app
    from mailbot.config import load_settings
    from mailbot.services.pipeline import run_pass
    from tests.support.dovecot import DovecotServer
    from tests.support.smtp_sink import SmtpSink

    tmp = Path(tempfile.mkdtemp(prefix="mbprof"))
    url, drop = _database(backend, tmp, "prof")
    server = DovecotServer()
    sink = SmtpSink().start()
    server.start()
    model = Path(tempfile.gettempdir()) / "mbpath-model-prof.npz"
    try:
        _deliver(server, n, seed)
        env = _env(REPO, tmp, url, server, sink.port, model)
        _timed(env, "init")
        app = build_app(load_settings(None, {k: v for k, v in env.items() if k.startswith("MAILBOT_")}))
        source = app.source()
        if out == "-":
            from collections import Counter

            from sqlalchemy import event

            from mailbot.services.ingest import ingest
            from mailbot.services.process import process_pending

            statements: Counter[str] = Counter()
            t0, c0 = time.perf_counter(), time.process_time()
            ingested = ingest(source, app.database, app.clock, read=app.processor.read)
            t1, c1 = time.perf_counter(), time.process_time()
            if os.environ.get("BENCH_COUNT_SQL"):  # what the process stage says to the database

                @event.listens_for(app.engine, "before_cursor_execute")
                def count(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
                    statements[" ".join(sql.split()[:4])[:70]] += 1

            processed = process_pending(app.database, app.processor, app.clock, parsed=ingested.parsed)
            t2, c2 = time.perf_counter(), time.process_time()
            for sql, times in statements.most_common(40):
                print(f"{times / n:6.2f} per message  {sql}")
            sent = 0
            while (step := app.outbox.drain().sent) > 0:
                sent += step
            t3, c3 = time.perf_counter(), time.process_time()
            print(
                f"ingest {t1 - t0:.2f} s ({n / (t1 - t0):.0f}/s, cpu {c1 - c0:.2f} s), process "
                f"{t2 - t1:.2f} s ({n / (t2 - t1):.0f}/s, cpu {c2 - c1:.2f} s), send {t3 - t2:.2f} s "
                f"({sent} mails, {sent / (t3 - t2):.0f}/s, cpu {c3 - c2:.2f} s incl. the sink); "
                f"opened {processed.tickets_opened}, peak RSS "
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
            )
            source.close()
            app.close()
            return
        prof = cProfile.Profile()
        start = time.perf_counter()
        prof.enable()
        summary = run_pass(source, app.database, app.processor, app.clock)
        middle = time.perf_counter()
        report = app.outbox.drain()
        prof.disable()
        end = time.perf_counter()
        source.close()
        app.close()
        prof.dump_stats(out)
        print(f"fetch {middle - start:.2f} s, send {end - middle:.2f} s: {summary.as_dict()} {report}")
    finally:
        sink.stop()
        server.cleanup()
        if drop:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--baseline-tree", type=Path, help="another code tree, run back to back first")
    parser.add_argument("--profile", help="write cProfile stats here instead of timing")
    args = parser.parse_args()
    if args.profile:
        profile(args.backend, args.messages, args.seed, args.profile)
        return
    import sqlalchemy

    print(
        f"cores: {os.cpu_count()}  python: {platform.python_version()}  sqlalchemy: "
        f"{sqlalchemy.__version__}  backend: {args.backend}  messages: {args.messages}  "
        f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    trees = [("base", args.baseline_tree.resolve())] if args.baseline_tree else []
    trees.append(("this", REPO))
    for tag, tree in trees:
        result = run_tree(tree, args.backend, args.messages, args.seed, tag)
        print(f"{tag}: {json.dumps(result)}")
        print(
            f"{tag:<5} whole path {result['path_per_s']:>7} msg/s  (fetch {result['fetch_s']} s, "
            f"send {result['send_s']} s in {result['send_commands']} runs, "
            f"{result['delivered_at_sink']} mails in all)  bare download "
            f"{result['bare_download_per_s']} msg/s  peak RSS fetch {result['peak_rss_mib']['fetch']} "
            f"MiB / send {result['peak_rss_mib']['send']} MiB"
        )
    print(f"self peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
