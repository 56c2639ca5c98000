"""Staff lists, the digest and the sweep read the open tickets through the partial index
``ix_tickets_open`` (issue 15): with years of closed tickets they must not scan them. The test
captures the SQL the repository really sends and asks the database for its plan. SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from mailbot.adapters.db.models import Ticket as TicketRow
from mailbot.bootstrap import App
from mailbot.domain.model import CLOSED_STATUSES
from mailbot.services.ticket_views import TicketFilter
from tests.support.app import make_app
from tests.support.store import open_store

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    application = make_app(tmp_path, database_url, clock)
    with open_store(application) as store:
        customer = store.find_or_create_customer("jan@example.nl", "Jan", NOW)
        rows: list[dict[str, Any]] = []
        for i in range(3000):
            at = NOW - timedelta(hours=3000 - i)
            rows.append(
                {
                    "id": f"t{i:05d}",
                    "ref": f"ORD-2026-{i:05d}",
                    "category": "complaint",
                    "status": "open" if i >= 2990 else "closed",
                    "customer_id": customer.id,
                    "language": "nl",
                    "triage": False,
                    "rule": "test",
                    "confidence": 1.0,
                    "received_at": at,
                    "opened_at": at,
                    "first_response_due": at + timedelta(hours=48),
                    "overdue": False,
                    "updated_at": at,
                    "legal_hold": False,
                }
            )
        store.session.execute(insert(TicketRow), rows)
        store.session.execute(text("ANALYZE"))
    yield application
    application.close()


def _statements(app: App, call: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM tickets" in statement and "status" in statement:
            seen.append((statement, parameters))

    engine = app.database.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen


def _plan(app: App, statement: str, parameters: Any) -> str:
    dialect = app.database.sessions.kw["bind"].dialect.name
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    with app.database.sessions.kw["bind"].connect() as conn:
        if dialect == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # tiny table: only an unusable index loses
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


def test_open_tickets_are_read_through_the_partial_index(app: App) -> None:
    def read() -> None:
        with app.database.transaction() as uow:
            assert len(uow.tickets.open_tickets(CLOSED_STATUSES)) == 10

    [(statement, parameters)] = _statements(app, read)
    assert "'closed'" in statement  # the statuses are constants the planner can match
    assert "ix_tickets_open" in _plan(app, statement, parameters)


def test_the_staff_list_reads_no_closed_ticket_unless_asked(app: App) -> None:
    listing = app.views.list(TicketFilter())
    assert len(listing.rows) == 10 and listing.counts["open"] == 10
    statements = _statements(app, lambda: app.views.list(TicketFilter(overdue=True)))
    assert all("NOT IN" in s for s, _ in statements), statements
    everything = app.views.list(TicketFilter(include_closed=True))
    assert len(everything.rows) == 3000 and everything.counts["open"] == 10
    closed = app.views.list(TicketFilter(status="closed"))
    assert len(closed.rows) == 2990 and closed.counts["open"] == 10
