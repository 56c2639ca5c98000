"""Arrival → acknowledgement (issue 15; target p50 < 0.5 s, p95 < 1.5 s): ``mailbot run`` as a real
process on IMAP IDLE against a private Dovecot, sending to an aiosmtpd sink; N messages APPENDed
one at a time at seeded random gaps. For each: the time from the APPEND's completion to the moment
the sink holds the acknowledgement (matched by In-Reply-To). Prints p50, p95, max, the count and
the core count; the baseline is the same loop's APPEND → IDLE wake-up of a bare imapclient
watcher (what the server itself takes to tell a client), measured in the same run.

    .venv/bin/python bench/bench_latency.py [--messages 200] [--seed 3] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def idle_wakeups(imap: object, count: int, rng: random.Random) -> list[float]:
    """The server's own share: APPEND → an IDLE watcher hears EXISTS."""
    from tests.support.mail import make_mail

    watcher = imap.client()  # type: ignore[attr-defined]
    watcher.select_folder("Baseline")
    waits = []
    for n in range(count):
        watcher.idle()
        time.sleep(rng.uniform(0.02, 0.1))
        started = time.monotonic()
        imap.append(make_mail(subject=f"baseline {n}"), folder="Baseline")  # type: ignore[attr-defined]
        responses = watcher.idle_check(timeout=5)
        waits.append(time.monotonic() - started if responses else 5.0)
        watcher.idle_done()
    watcher.logout()
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    from tests.support.dovecot import DovecotServer
    from tests.support.faults import MailbotProcess, run_env, wait_until
    from tests.support.mail import make_mail
    from tests.support.smtp_sink import SmtpSink

    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="latb", dir="/tmp"))
    url = f"sqlite:///{root / 'mailbot.db'}"
    if args.backend == "postgresql":
        sys.path.insert(0, str(REPO / "bench"))
        from kill9 import drop_pg, pg_database

        name = f"mailbot_lat_{os.getpid()}"
        url = pg_database(name)
    parent = "/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp"
    arrived: dict[str, float] = {}
    try:
        with DovecotServer(parent=parent) as imap, SmtpSink() as sink:
            with imap.client() as admin:
                admin.create_folder("Baseline")
            baseline = idle_wakeups(imap, 50, rng)
            stop = threading.Event()

            def watch() -> None:
                seen = 0
                while not stop.is_set():
                    delivered = list(sink.messages)
                    for item in delivered[seen:]:
                        parsed = email.message_from_bytes(item.data, policy=email.policy.default)
                        reply_to = str(parsed.get("In-Reply-To", "")).strip()
                        if reply_to and reply_to not in arrived:
                            arrived[reply_to] = time.monotonic()
                    seen = len(delivered)
                    time.sleep(0.002)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            env = run_env(root, url, imap, sink, {"MAILBOT_IMAP__POLL_SECONDS": "60"})
            proc = MailbotProcess(env, root / "mailbot.log")
            proc.start()
            appended: dict[str, float] = {}
            try:
                time.sleep(3)  # start-up: imports, migrations, the first (empty) pass, IDLE
                for n in range(args.messages):
                    message_id = f"<lat{n}.{args.seed}@example.nl>"
                    raw = make_mail(
                        sender=f"klant{n}@example.nl",
                        subject=f"Vraag over de training {n}",
                        message_id=message_id,
                    )
                    imap.append(raw)
                    appended[message_id] = time.monotonic()
                    time.sleep(rng.uniform(0.05, 1.0))
                wait_until(lambda: all(m in arrived for m in appended), 30)
                proc.terminate()
            finally:
                proc.ensure_stopped()
                stop.set()
                watcher.join(2)
    finally:
        if args.backend == "postgresql":
            drop_pg(name)
        shutil.rmtree(root, ignore_errors=True)
    latencies = [arrived[m] - t for m, t in appended.items() if m in arrived]
    print(
        json.dumps(
            {
                "backend": args.backend,
                "messages": len(appended),
                "acknowledged": len(latencies),
                "p50_s": round(percentile(latencies, 0.5), 3) if latencies else None,
                "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
                "max_s": round(max(latencies), 3) if latencies else None,
                "mean_s": round(statistics.mean(latencies), 3) if latencies else None,
                "baseline_idle_wakeup_p50_s": round(percentile(baseline, 0.5), 4),
                "baseline_idle_wakeup_p95_s": round(percentile(baseline, 0.95), 4),
                "cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
