"""Benchmark: peak RSS of ``mailbot fetch --once`` (issue 15: < 200 MB whatever N and message size).

Each case is a fresh private Dovecot and SQLite database; ``mailbot init`` runs first, then
``mailbot fetch --once`` as its own process, its peak RSS read from ``wait4`` (``ru_maxrss``, what
``/usr/bin/time -f %M`` prints). Cases:

* ``empty``: no mail at all — the interpreter, the imports and the text model: the floor;
* ``N=…``: N messages of the realistic mix (``bench/mix.py``, the same bytes as ``bench_path.py``);
* ``1MB``, ``10MB``, ``24MB``: one message of that size (a short Dutch text and one base64
  attachment of random bytes), under the default ``processing.max_message_bytes`` of 25 MiB.

With ``--baseline-tree`` (``git archive main | tar -x -C /tmp/mb-base-mem``) every case runs in that
tree too, back to back, on the same bytes; both trees use this venv (``PYTHONPATH``).

    .venv/bin/python bench/bench_memory.py [--messages 2000 10000] [--sizes 1 10 24]
        [--baseline-tree /tmp/mb-base-mem]
    .venv/bin/python bench/bench_memory.py --stages 24   # where it goes, in this process

``--stages MB`` runs ingest and process of one message of that size in this process and prints
the peak RSS (``VmHWM``, reset between stages through ``/proc/self/clear_refs``) and the peak of
Python's own allocations (tracemalloc) of each stage.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_path import _env, _timed  # noqa: E402


def big_message(megabytes: float, seed: int = 15) -> bytes:
    """One realistic large mail: a text part and one attachment, ``megabytes`` × 10^6 bytes in all."""
    size = int(megabytes * 1_000_000)
    head = (
        b"From: Jan Jansen <jan.jansen@example.nl>\r\nTo: info@ordevos.nl\r\n"
        b"Subject: Klacht over mijn bestelling, scan bijgevoegd\r\n"
        b"Message-ID: <big-" + str(size).encode() + b"@example.nl>\r\n"
        b"Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Goedemiddag,\r\n\r\nMijn bestelling is beschadigd aangekomen. Ik wil graag mijn geld terug.\r\n"
        b"Zie de scan in de bijlage.\r\n\r\nMet vriendelijke groet,\r\nJan Jansen\r\n"
        b"--b\r\nContent-Type: application/pdf; name=scan.pdf\r\n"
        b'Content-Disposition: attachment; filename="scan.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    tail = b"\r\n--b--\r\n"
    payload = (size - len(head) - len(tail)) * 57 // 78  # 76 base64 characters + CRLF per 57 bytes
    data = random.Random(seed).randbytes(payload)
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return head + body + tail


def run_case(tree: Path, raws: Iterable[bytes], tag: str) -> dict[str, Any]:
    from tests.support.dovecot import DovecotServer
    from tests.support.smtp_sink import SmtpSink

    tmp = Path(tempfile.mkdtemp(prefix="mbmem"))
    model = Path(tempfile.gettempdir()) / f"mbmem-model-{tag}.npz"
    server = DovecotServer()
    sink = SmtpSink().start()
    server.start()
    try:
        count = server.deliver_files(raws)
        env = _env(tree, tmp, f"sqlite:///{tmp / 'mailbot.db'}", server, sink.port, model)
        _timed(env, "init")
        seconds, rss, out = _timed(env, "fetch", "--once", "--json")
    finally:
        sink.stop()
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return {"messages": count, "seconds": round(seconds, 1), "peak_rss_mib": round(rss, 1), "out": out}


def cases(messages: list[int], sizes: list[float], seed: int) -> list[tuple[str, Any]]:
    from mix import Mix

    found: list[tuple[str, Any]] = [("empty", list)]
    found += [(f"{mb:g}MB", lambda mb=mb: [big_message(mb, seed)]) for mb in sizes]
    found += [(f"N={n}", lambda n=n: Mix(seed).messages(n)) for n in messages]
    return found


def _hwm_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


def stages(megabytes: float, seed: int) -> None:
    """Ingest and process of one big message in this process: peak RSS and Python peak per stage."""
    import tracemalloc

    from mailbot.bootstrap import build_app
    from mailbot.config import load_settings
    from mailbot.services.ingest import ingest
    from mailbot.services.process import process_pending
    from tests.support.dovecot import DovecotServer
    from tests.support.smtp_sink import SmtpSink

    tmp = Path(tempfile.mkdtemp(prefix="mbmemst"))
    server = DovecotServer()
    sink = SmtpSink().start()
    server.start()
    model = Path(tempfile.gettempdir()) / "mbmem-model-stages.npz"
    try:
        server.deliver_files([big_message(megabytes, seed)])
        env = _env(REPO, tmp, f"sqlite:///{tmp / 'mailbot.db'}", server, sink.port, model)
        _timed(env, "init")
        app = build_app(load_settings(None, {k: v for k, v in env.items() if k.startswith("MAILBOT_")}))
        source = app.source()
        print(f"after start-up and model: RSS peak {_hwm_mib():.0f} MiB")
        for name, run in (
            ("ingest", lambda: ingest(source, app.database, app.clock, read=app.processor.read)),
            ("process", lambda: process_pending(app.database, app.processor, app.clock)),
            ("send", app.outbox.drain),
        ):
            _reset_hwm()
            before = _hwm_mib()
            tracemalloc.start()
            started = time.perf_counter()
            run()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{name:<8} {time.perf_counter() - started:6.2f} s  RSS {before:.0f} → peak "
                f"{_hwm_mib():.0f} MiB  Python peak {peak / 2**20:.1f} MiB "
                f"({peak / (megabytes * 1e6):.1f}× the message)"
            )
        source.close()
        app.close()
    finally:
        sink.stop()
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, nargs="*", default=[2000, 10000])
    parser.add_argument("--sizes", type=float, nargs="*", default=[1, 10, 24], help="single messages, MB")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--baseline-tree", type=Path, help="another code tree, each case run there too")
    parser.add_argument("--stages", type=float, metavar="MB", help="one message in this process, by stage")
    args = parser.parse_args()
    if args.stages:
        stages(args.stages, args.seed)
        return
    print(
        f"cores: {os.cpu_count()}  python: {platform.python_version()}  "
        f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  backend: sqlite"
    )
    trees = [("base", args.baseline_tree.resolve())] if args.baseline_tree else []
    trees.append(("this", REPO))
    rows: list[tuple[str, dict[str, float]]] = []
    for name, make in cases(args.messages, args.sizes, args.seed):
        figures: dict[str, float] = {}
        for tag, tree in trees:
            result = run_case(tree, make(), tag)
            figures[tag] = result["peak_rss_mib"]
            summary = result["out"].strip().splitlines()[-1] if result["out"].strip() else ""
            print(
                f"{name:<8} {tag:<5} {result['seconds']:>6} s  "
                f"peak RSS {result['peak_rss_mib']:>6} MiB  {summary}"
            )
        rows.append((name, figures))
    print("\npeak RSS of fetch --once, MiB (ru_maxrss)")
    print(f"{'case':<8} " + " ".join(f"{tag:>8}" for tag, _ in trees))
    for name, figures in rows:
        print(f"{name:<8} " + " ".join(f"{figures[tag]:>8}" for tag, _ in trees))
    print(f"self peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
