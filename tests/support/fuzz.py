"""Seeded mutations of the real-world corpus (issue 13), shared by the fuzz test and bench/fuzz.py."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from mailbot.domain.model import Organisation
from mailbot.domain.rules import RuleSet, classify_unparseable
from mailbot.mail.parse import UnparseableMail, parse_message
from tests.support.classify import classify

REALWORLD = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "realworld"


def realworld_corpus() -> list[bytes]:
    skip = {".csv", ".md", ".txt", ".py"}
    return [p.read_bytes() for p in sorted(REALWORLD.rglob("*")) if p.is_file() and p.suffix not in skip]


def mutate(raw: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if not raw:
        return b"\x00"
    if kind == 0:  # truncation
        return raw[: rng.randrange(len(raw))]
    if kind == 1:  # byte flips
        data = bytearray(raw)
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return bytes(data)
    end = raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.find(b"\n\n")
    if kind == 2 and end > 0:  # duplicated header block
        return raw[:end] + b"\r\n" + raw[:end] + raw[end:]
    data = bytearray(raw)  # NULs
    for _ in range(rng.randint(1, 8)):
        data.insert(rng.randrange(len(data) + 1), 0)
    return bytes(data)


def fuzz_cases(seed: int, mutations: int) -> Iterator[bytes]:
    corpus = realworld_corpus()
    yield from corpus
    rng = random.Random(seed)
    for _ in range(mutations):
        yield mutate(rng.choice(corpus), rng)


@dataclass
class FuzzFigures:
    """What parse → classify made of the cases: nothing may crash or hang."""

    cases: int = 0
    unparseable: int = 0
    hangs: int = 0
    crashes: list[str] = field(default_factory=list)
    slowest_seconds: float = 0.0


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang


def parse_and_classify_all(
    cases: Iterable[bytes], rules: RuleSet, org: Organisation, per_message_seconds: int
) -> FuzzFigures:
    """Each case through the production parse and classify, under a per-message time limit
    (SIGALRM: main thread only); whatever escapes is a crash, whatever runs out of time a hang."""
    figures = FuzzFigures()
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for n, raw in enumerate(cases):
            figures.cases += 1
            started = time.perf_counter()
            signal.alarm(per_message_seconds)
            try:
                try:
                    result = classify(parse_message(raw), rules, org)
                except UnparseableMail as exc:
                    figures.unparseable += 1
                    result = classify_unparseable(str(exc))
                if result.category is None:
                    figures.crashes.append(f"case {n}: no category")
            except _Hang:
                figures.hangs += 1
            except Exception as exc:  # the point: nothing may escape
                figures.crashes.append(f"case {n}: {type(exc).__name__}: {exc}"[:200])
            finally:
                signal.alarm(0)
                figures.slowest_seconds = max(figures.slowest_seconds, time.perf_counter() - started)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return figures
