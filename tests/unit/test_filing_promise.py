"""A ticket filed in another category than its "klacht" subject keeps the subject's promise (R-B1):
the complaint's first-answer deadline, even where the company's policy gives that other category a
later one or none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from mailbot.domain.deadlines import DeadlinePolicy, compute_deadlines
from mailbot.domain.model import Category, Classification, Customer, Organisation, Ticket
from mailbot.mail.parse import parse_message
from mailbot.services.filing import open_ticket
from mailbot.services.repositories import StoredRaw, UnitOfWork
from tests.support.mail import make_mail

RECEIVED = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
#: A company that gives "other" a week for its first answer and complaints 48 hours.
POLICY = DeadlinePolicy(per_category_first_response={Category.OTHER: 168, Category.AUTOMATED: None})


class _Tickets:
    def __init__(self) -> None:
        self.added: list[Ticket] = []

    def next_ref(self, prefix: str, year: int) -> str:
        return f"{prefix}-{year}-00001"

    def add(self, ticket: Ticket, subject: str, evidence: tuple[str, ...]) -> None:
        self.added.append(ticket)


class _Audit:
    def record(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Uow:
    def __init__(self) -> None:
        self.tickets, self.audit = _Tickets(), _Audit()


def _deadlines(category: Category, received_at: datetime) -> dict[str, datetime | None]:
    due = compute_deadlines(category, received_at, POLICY)
    return {"first_response_due": due.first_response_due, "resolution_due": due.resolution_due}


def _open(classification: Classification) -> Ticket:
    uow = _Uow()
    parsed = parse_message(make_mail(subject="Rugklachten - kan de sessie staand?", body="Graag staand."))
    raw = StoredRaw("raw-1", b"", RECEIVED, "cust-1", "pending")
    customer = Customer("cust-1", "a@example.nl", "A")
    open_ticket(
        cast(UnitOfWork, uow), Organisation(), _deadlines, customer, raw, parsed, classification, RECEIVED
    )
    return uow.tickets.added[0]


def test_other_with_the_subject_promise_keeps_the_complaints_first_answer() -> None:
    promised = _open(Classification(Category.OTHER, "model", 0.9, first_answer_as=Category.COMPLAINT))
    plain = _open(Classification(Category.OTHER, "model", 0.9))
    assert promised.category == plain.category == Category.OTHER.value
    assert promised.first_response_due == RECEIVED + timedelta(hours=48)
    assert plain.first_response_due == RECEIVED + timedelta(hours=168)
    assert promised.resolution_due is None  # only the promise travels, not the complaint's other terms
