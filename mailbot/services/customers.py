"""Customers from the customer administration, shown and rectified by staff (issue 12, R-A11).

Each function works in the caller's unit of work, so an import is one transaction: every row is
validated (the file, then each address against the store) before the first write, and any problem
raises ``ImportRefused`` with one line per bad row, so nothing is half-imported. Audit events name
the customer by id and the fields by name only: no value ever reaches the trail (R-A18).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mailbot.domain.customer_records import (
    FIELDS,
    CustomerRecord,
    clean,
    field_problem,
    parse_customers_csv,
)
from mailbot.domain.model import Customer, Ticket
from mailbot.services.repositories import UnitOfWork


class CustomerInputError(ValueError):
    """Bad input from staff (an unknown address, an invalid field): one line, no personal data."""


class ImportRefused(CustomerInputError):
    """The file has bad rows; ``problems`` has one line each. Nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} bad row(s); nothing was imported")
        self.problems = problems


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class CustomerView:
    """A customer with their tickets, for staff eyes (``customers show``)."""

    customer: Customer
    tickets: list[Ticket]


def known_customer(uow: UnitOfWork, email: str) -> Customer:
    """The customer with this address, or a one-line error that does not repeat the address."""
    customer = uow.customers.by_address(email)
    if customer is None:
        raise CustomerInputError("no customer with that e-mail address")
    if customer.erased_at is not None:
        raise CustomerInputError("that customer was erased; nothing is held on them any more")
    return customer


def import_customers(uow: UnitOfWork, text: str, now: datetime, actor: str = "staff") -> ImportReport:
    """Create or update every customer in the CSV ``text``; all rows or none.

    An existing customer (same address by blind index) is updated with the non-empty cells of their
    row; the rest of their record, their tickets and their key stay as they are.
    """
    parsed = parse_customers_csv(text)
    problems = [str(p) for p in parsed.problems]
    plan: list[tuple[CustomerRecord, Customer | None]] = []
    for number, record in parsed.records:
        existing = uow.customers.by_address(record.email)
        if (existing is not None and existing.erased_at is not None) or (
            existing is None and uow.erasures.was_erased(record.email)
        ):
            problems.append(f"row {number}: this customer was erased; an import does not bring them back")
        plan.append((record, existing))
    if problems:
        raise ImportRefused(problems)
    created = updated = unchanged = 0
    for record, existing in plan:
        values = record.given()
        if existing is None:
            customer = uow.customers.create(record.email, values, "import", now)
            created += 1
            uow.audit.record(
                "customer.imported",
                now,
                customer_id=customer.id,
                actor=actor,
                action="created",
                fields=sorted(values),
            )
            continue
        changed = uow.customers.set_fields(existing.id, values)
        if changed:
            updated += 1
        else:
            unchanged += 1
        uow.audit.record(
            "customer.imported",
            now,
            customer_id=existing.id,
            actor=actor,
            action="updated" if changed else "unchanged",
            fields=sorted(changed),
        )
    return ImportReport(created=created, updated=updated, unchanged=unchanged)


def show_customer(uow: UnitOfWork, email: str) -> CustomerView:
    customer = known_customer(uow, email)
    return CustomerView(customer, uow.tickets.of_customer(customer.id))


def rectify_customer(
    uow: UnitOfWork, email: str, changes: Mapping[str, str], now: datetime, actor: str = "staff"
) -> list[str]:
    """Overwrite the given fields (an empty value clears one); the old values are kept nowhere.

    Audited as ``customer.rectified`` with the names of the fields that changed. Art. 16 has no
    ground for refusal, so the only errors are an unknown customer and an invalid value.
    """
    if not changes:
        raise CustomerInputError(f"nothing to change: give at least one of {', '.join(FIELDS)}")
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise CustomerInputError(f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)}")
    values: dict[str, str | None] = {}
    for name in FIELDS:
        if name not in changes:
            continue
        value = clean(changes[name])
        problem = field_problem(name, value or "")
        if problem is not None:
            raise CustomerInputError(problem)
        values[name] = value
    customer = known_customer(uow, email)
    changed = uow.customers.set_fields(customer.id, values)
    uow.audit.record("customer.rectified", now, customer_id=customer.id, actor=actor, fields=sorted(changed))
    return changed
