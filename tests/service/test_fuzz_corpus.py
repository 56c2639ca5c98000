"""Seeded fuzzing with real-world mail (issue 13): every file of the real-world corpus and a few
thousand seeded mutations (truncations, byte flips, duplicated header blocks, NULs) go through
parse → classify without raising and within a per-message time limit; a seeded sample also goes
through ingest + process on real storage, each ending as ticket, automated, duplicate or quarantine."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import pytest

from mailbot.bootstrap import App
from mailbot.domain.model import Organisation
from mailbot.domain.rules import classify_unparseable
from mailbot.mail.parse import UnparseableMail, parse_message
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.classify import classify
from tests.support.fakes import MemorySource, keyword_classifier
from tests.unit.test_rules_support import CORPUS, shipped_rules

REALWORLD = CORPUS / "realworld"
SEED = 13
MUTATIONS = 3000
PER_MESSAGE_SECONDS = 5
RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _corpus() -> list[bytes]:
    skip = {".csv", ".md", ".txt", ".py"}
    return [p.read_bytes() for p in sorted(REALWORLD.rglob("*")) if p.is_file() and p.suffix not in skip]


def _mutate(raw: bytes, rng: random.Random) -> bytes:
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


def _cases() -> Iterator[bytes]:
    corpus = _corpus()
    yield from corpus
    rng = random.Random(SEED)
    for _ in range(MUTATIONS):
        yield _mutate(rng.choice(corpus), rng)


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang


def test_corpus_and_mutations_parse_and_classify_without_raising_or_hanging() -> None:
    corpus = _corpus()
    assert len(corpus) >= 700, f"real-world corpus not found at {REALWORLD}"
    rules, org = shipped_rules(), Organisation()
    previous = signal.signal(signal.SIGALRM, _alarm)
    crashes: list[str] = []
    hangs = unparseable = 0
    try:
        for n, raw in enumerate(_cases()):
            signal.alarm(PER_MESSAGE_SECONDS)
            try:
                try:
                    result = classify(parse_message(raw), rules, org)
                except UnparseableMail as exc:
                    unparseable += 1
                    result = classify_unparseable(str(exc))
                assert result.category is not None
            except _Hang:
                hangs += 1
            except Exception as exc:  # the point: nothing may escape
                crashes.append(f"case {n}: {type(exc).__name__}: {exc}"[:200])
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert crashes == [] and hangs == 0, (hangs, crashes[:10])


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    application = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    yield application
    application.close()


def test_seeded_mutations_through_ingest_and_process_each_end_somewhere(app: App) -> None:
    rng = random.Random(SEED + 1)
    corpus = _corpus()
    sample = [_mutate(rng.choice(corpus), rng) for _ in range(120)] + rng.sample(corpus, 30)
    source = MemorySource()
    for raw in sample:
        source.add(raw, RECEIVED)
    started = time.monotonic()
    summary = run_pass(source, app.database, app.processor, app.clock)
    assert time.monotonic() - started < 60
    ended = summary.tickets_opened + summary.appended + summary.automated + summary.duplicates
    assert summary.fetched == len(set(sample))
    assert ended + summary.quarantined == summary.fetched, summary
