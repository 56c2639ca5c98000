"""The audit trail is a hash chain (issue 12, R-A18): editing, deleting or reordering an event is
detected and the first broken link named; two concurrent writers still make one whole chain."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from mailbot.adapters.db.models import AuditEvent
from tests.conftest import FakeClock
from tests.support.app import make_app


def _app_with_events(tmp_path: Path, database_url: str, clock: FakeClock, n: int = 5):  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, database_url, clock)
    for i in range(n):
        with app.database.transaction() as uow:
            uow.audit.record("test.event", clock.advance(minutes=1), ticket_id=f"t{i}", step=i)
    return app


def _raw(app, statement) -> None:  # type: ignore[no-untyped-def]
    with app.engine.begin() as connection:
        connection.execute(statement)


def test_r_a18_an_untouched_chain_verifies(tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    app = _app_with_events(tmp_path, database_url, clock)
    try:
        report = app.audit.verify()
        assert report.ok, report.broken
        assert report.events == 5
    finally:
        app.close()


def test_r_a18_an_edited_event_is_named(tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    app = _app_with_events(tmp_path, database_url, clock)
    try:
        _raw(app, update(AuditEvent).where(AuditEvent.seq == 3).values(actor="someone-else"))
        report = app.audit.verify()
        assert not report.ok
        assert report.first_bad_seq == 3
        assert "event 3" in (report.broken or "") and "changed" in (report.broken or "")
    finally:
        app.close()


def test_r_a18_a_deleted_event_is_named(tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    app = _app_with_events(tmp_path, database_url, clock)
    try:
        _raw(app, delete(AuditEvent).where(AuditEvent.seq == 2))
        report = app.audit.verify()
        assert not report.ok
        assert report.first_bad_seq == 2
        assert "expected event 2" in (report.broken or "")
    finally:
        app.close()


def test_r_a18_a_deleted_last_event_is_caught_by_the_head(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    app = _app_with_events(tmp_path, database_url, clock)
    try:
        _raw(app, delete(AuditEvent).where(AuditEvent.seq == 5))
        report = app.audit.verify()
        assert not report.ok
        assert "head names event 5" in (report.broken or "")
    finally:
        app.close()


def test_r_a18_reordered_events_are_named(tmp_path: Path, database_url: str, clock: FakeClock) -> None:
    """Swap the places of events 2 and 4 (their sequence numbers), as an editor re-sorting would."""
    app = _app_with_events(tmp_path, database_url, clock)
    try:
        _raw(app, update(AuditEvent).where(AuditEvent.seq == 2).values(seq=-2))
        _raw(app, update(AuditEvent).where(AuditEvent.seq == 4).values(seq=2))
        _raw(app, update(AuditEvent).where(AuditEvent.seq == -2).values(seq=4))
        report = app.audit.verify()
        assert not report.ok
        assert report.first_bad_seq == 2
    finally:
        app.close()


def test_r_a18_rewritten_content_with_a_recomputed_hash_breaks_the_next_link(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    """An editor who also recomputes the edited event's own hash is caught at the next link."""
    from mailbot.domain.audit_chain import link_hash

    app = _app_with_events(tmp_path, database_url, clock)
    try:
        with app.engine.begin() as connection:
            row = connection.execute(select(AuditEvent).where(AuditEvent.seq == 3)).one()
            forged = link_hash(
                row.prev_hash,
                3,
                row.at if row.at.tzinfo else row.at.replace(tzinfo=clock.now.tzinfo),
                row.kind,
                "forger",
                row.ticket_id,
                row.customer_id,
                row.detail,
            )
            connection.execute(
                update(AuditEvent).where(AuditEvent.seq == 3).values(actor="forger", hash=forged)
            )
        report = app.audit.verify()
        assert not report.ok
        assert report.first_bad_seq == 4
    finally:
        app.close()


@pytest.mark.postgres
def test_r_a18_two_concurrent_writers_make_one_whole_chain(
    tmp_path: Path, postgres_database: str, clock: FakeClock
) -> None:
    """Two threads, each its own connection, append 40 events each at once on PostgreSQL."""
    from tests.support.db import truncate_all

    truncate_all(postgres_database)
    app = make_app(tmp_path, postgres_database, clock)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            barrier.wait()
            for i in range(40):
                with app.database.transaction() as uow:
                    uow.audit.record("test.concurrent", clock(), actor=name, step=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        report = app.audit.verify()
        assert report.ok, report.broken
        assert report.events == 80
    finally:
        app.close()
