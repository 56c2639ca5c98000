"""Shared fixtures: storage on SQLite *and* PostgreSQL, settings in a temp dir, a test clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.db import postgres_database, truncate_all  # noqa: F401  (fixture)
from tests.support.smtp_sink import smtp_sink  # noqa: F401  (fixture)

# Property tests check behaviour, not speed: a slow shared CI machine must not fail them by timing.
settings.register_profile("mailbot", deadline=None)
settings.load_profile("mailbot")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LABELLED = SHARED / "corpus" / "labelled"
REALWORLD = SHARED / "corpus" / "realworld"


class FakeClock:
    """A clock the test moves by hand, so deadlines need no sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage test runs twice: on SQLite (embedded default) and on PostgreSQL (production)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailbot.db'}"
        return
    url = request.getfixturevalue("postgres_database")
    truncate_all(url)
    yield url
