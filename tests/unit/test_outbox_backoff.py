"""The retry schedule of the outbox: doubling from ``smtp.retry_first_seconds``, jittered, capped."""

from __future__ import annotations

import random
from datetime import timedelta

from mailbot.services.outbox import backoff


def test_backoff_doubles_from_the_first_wait_with_jitter_and_caps_at_an_hour() -> None:
    rng = random.Random(3)
    first = timedelta(seconds=60)
    for attempts, base in [(1, 60), (2, 120), (3, 240), (7, 3600), (30, 3600)]:
        waits = [backoff(attempts, rng, first).total_seconds() for _ in range(200)]
        assert base * 0.5 <= min(waits) and max(waits) <= base, (attempts, min(waits), max(waits))
        assert max(waits) - min(waits) > base * 0.3  # jitter: retries do not come in one burst


def test_the_first_wait_is_configurable() -> None:
    waits = {backoff(1, random.Random(seed), timedelta(seconds=2)).total_seconds() for seed in range(50)}
    assert all(1 <= w <= 2 for w in waits) and len(waits) > 10
