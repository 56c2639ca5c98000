"""Customers: found by the blind index of their address (R-D6), their fields sealed under their own
data key, created at most once even when two workers meet the same new address at once.

A field is changed by sealing the new value over the old ciphertext in the same column: there is no
history table and no old value in an audit event, so a rectification keeps nothing of what it
replaced (R-A11) beyond what the database engine itself has not yet reused (free pages, WAL, dead
PostgreSQL tuples), which is ciphertext under a key that erasure destroys.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot.adapters.crypto import DecryptionError
from mailbot.adapters.db.models import Customer as CustomerRow
from mailbot.adapters.db.models import new_id
from mailbot.adapters.db.repos.base import SqlRepository
from mailbot.adapters.db.vault import Vault
from mailbot.domain.customer_records import FIELDS
from mailbot.domain.model import Customer

#: The sealed column of each customer field (the CSV and CLI call the postal address ``address``).
FIELD_COLUMNS: dict[str, str] = {
    "name": "name",
    "company": "company",
    "address": "postal_address",
    "phone": "phone",
}
assert tuple(FIELD_COLUMNS) == FIELDS


class SqlCustomers(SqlRepository):
    def __init__(self, session: Session, vault: Vault) -> None:
        super().__init__(session, vault)
        self._held: dict[str, CustomerRow] = {}

    def _open(self, row: CustomerRow, column: str) -> str:
        return self.open_text(getattr(row, f"{column}_enc"), "customers", column, row.id, row.id)

    def _value(self, row: CustomerRow) -> Customer:
        self.vault.remember_customer_key(row.id, row.data_key_id)
        try:
            opened = {column: self._open(row, column) for column in ("address", *FIELD_COLUMNS.values())}
        except DecryptionError:  # the key was destroyed: the person was erased
            opened = dict.fromkeys(("address", *FIELD_COLUMNS.values()), "")
        return Customer(
            id=row.id,
            verified=row.verified,
            restricted=row.restricted,
            created_at=row.created_at,
            erased_at=row.erased_at,
            source=row.source,
            **opened,
        )

    def set_fields(self, customer_id: str, values: Mapping[str, str | None]) -> list[str]:
        """Seal each given field over its stored value (``None`` or "" clears it); returns the names
        of the fields whose value changed, so an unchanged import row is not reported as an update."""
        row = self.session.get(CustomerRow, customer_id)
        if row is None:
            raise LookupError("no such customer")
        changed: list[str] = []
        for name, value in values.items():
            column = FIELD_COLUMNS[name]  # KeyError on an unknown field: a programming error
            new = value or None
            if (self._open(row, column) or None) == new:
                continue
            sealed = self.seal(row.data_key_id, "customers", column, row.id, row.id, new)
            setattr(row, f"{column}_enc", sealed)
            changed.append(name)
        self.session.flush()
        return changed

    def create(self, address: str, values: Mapping[str, str | None], source: str, now: datetime) -> Customer:
        """A new customer with these fields (the import: ``source`` "import"). The caller checked
        that the address is not known; a concurrent creation surfaces as ``Conflict`` at commit."""
        row = CustomerRow(
            id=new_id(),
            address_index=self.address_index(address),
            created_at=now,
            verified=False,
            restricted=False,
            source=source,
        )
        row.data_key_id = self.vault.new_key(self.session, "customer", now)
        row.address_enc = self.seal(row.data_key_id, "customers", "address", row.id, row.id, address) or b""
        for name, value in values.items():
            column = FIELD_COLUMNS[name]
            setattr(
                row,
                f"{column}_enc",
                self.seal(row.data_key_id, "customers", column, row.id, row.id, value or None),
            )
        self.session.add(row)
        self.session.flush()
        return self._value(row)

    def get(self, customer_id: str) -> Customer | None:
        row = self.session.get(CustomerRow, customer_id)
        if row is None:
            return None
        # Held for the transaction: the session's identity map is weak, and the hooks of one
        # message ask for the same customer again (a SELECT each time otherwise).
        self._held[customer_id] = row
        return self._value(row)

    def by_address(self, address: str) -> Customer | None:
        row = self.session.scalar(
            select(CustomerRow).where(CustomerRow.address_index == self.address_index(address))
        )
        return self._value(row) if row is not None else None

    def find_or_create(self, address: str, name: str | None, now: datetime) -> Customer:
        index = self.address_index(address)
        existing = self.session.scalar(select(CustomerRow).where(CustomerRow.address_index == index))
        if existing is not None:
            return self._value(existing)
        # The id is set here, not by the column default at flush: it is sealed into the address.
        row = CustomerRow(id=new_id(), address_index=index, created_at=now, verified=False, restricted=False)
        row.data_key_id = self.vault.new_key(self.session, "customer", now)
        row.address_enc = self.seal(row.data_key_id, "customers", "address", row.id, row.id, address) or b""
        row.name_enc = self.seal(row.data_key_id, "customers", "name", row.id, row.id, name or None)
        # A concurrent ingest may create the same customer: the unique index decides, we re-read.
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
        except IntegrityError:
            found = self.session.scalar(select(CustomerRow).where(CustomerRow.address_index == index))
            assert found is not None
            return self._value(found)
        self.vault.remember_customer_key(row.id, row.data_key_id)
        return Customer(id=row.id, address=address, name=name or "", created_at=now)
