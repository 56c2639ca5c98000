"""Benchmark: stateless ``parse_message`` + ``classify`` throughput on one core (issue 3: ≥ 2,000 msg/s).

Builds 10,000 messages by cycling the labelled corpus and the real-world corpus (files over
256 KB left out: they are parser torture tests, measured separately below), and makes every
copy unique (its own Message-ID and a fresh made-up word in the subject and body) so the
per-word caches cannot serve a replay of the same text. Runs in this one process: one core.

    .venv/bin/python bench/bench_classify.py [--count 10000] [--corpus all|labelled]
"""

from __future__ import annotations

import argparse
import os
import random
import string
import time
from pathlib import Path

from mailbot.adapters.rules_loader import load_ruleset
from mailbot.domain.model import Organisation
from mailbot.domain.rules import classify, classify_unparseable
from mailbot.mail.parse import UnparseableMail, parse_message

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".." / "shared" / "corpus"
MAX_SIZE = 256 * 1024


def _sources(corpus: str = "all") -> tuple[list[bytes], list[Path]]:
    small: list[bytes] = []
    big: list[Path] = []
    folders = [CORPUS / "labelled"] + ([CORPUS / "realworld"] if corpus == "all" else [])
    for folder in folders:
        for path in sorted(folder.rglob("*.eml")):
            if path.stat().st_size > MAX_SIZE:
                big.append(path)
            else:
                small.append(path.read_bytes())
    return small, big


def _unique(raw: bytes, n: int, rng: random.Random) -> bytes:
    word = "".join(rng.choices(string.ascii_lowercase, k=9)).encode()
    head, sep, body = raw.partition(b"\n\n") if b"\r\n\r\n" not in raw[:20000] else raw.partition(b"\r\n\r\n")
    extra = b"Message-ID: <bench-%d@bench.example>\n" % n
    head = head.replace(b"\nSubject: ", b"\nSubject: " + word + b" ", 1)
    return extra + head + sep + word + b" " + body


def run(count: int, corpus: str = "all") -> None:
    rng = random.Random(42)
    small, big = _sources(corpus)
    messages = [_unique(small[i % len(small)], i, rng) for i in range(count)]
    ruleset = load_ruleset(REPO / "rules")
    org = Organisation()
    for raw in messages[:200]:  # warm-up: imports, regex compilation
        _one(raw, ruleset, org)
    start = time.perf_counter()
    cpu_start = time.process_time()
    for raw in messages:
        _one(raw, ruleset, org)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    size = sum(len(m) for m in messages) / len(messages)
    print(f"messages: {count} (from {len(small)} corpus files, mean {size / 1024:.1f} KB)")
    print(f"wall: {wall:.2f} s  cpu: {cpu:.2f} s")
    print(f"throughput: {count / wall:,.0f} messages/second (one core)")
    print(f"os.cpu_count(): {os.cpu_count()}")
    for path in big:
        t = time.perf_counter()
        _one(path.read_bytes(), ruleset, org)
        print(
            f"  large file {path.name} ({path.stat().st_size // 1024} KB): "
            f"{(time.perf_counter() - t) * 1000:.0f} ms"
        )


def _one(raw: bytes, ruleset, org) -> None:  # type: ignore[no-untyped-def]
    try:
        classify(parse_message(raw), ruleset, org)
    except UnparseableMail as exc:
        classify_unparseable(str(exc))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--corpus",
        choices=["all", "labelled"],
        default="all",
        help="all: labelled + real-world (stress mix, the default); labelled: info@-style mail only",
    )
    args = parser.parse_args()
    run(args.count, args.corpus)
