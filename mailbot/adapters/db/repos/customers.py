"""Customers: found by the blind index of their address (R-D6), their fields sealed under their own
data key, created at most once even when two workers meet the same new address at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailbot.adapters.crypto import DecryptionError
from mailbot.adapters.db.models import Customer as CustomerRow
from mailbot.adapters.db.models import new_id
from mailbot.adapters.db.repos.base import SqlRepository
from mailbot.domain.model import Customer


class SqlCustomers(SqlRepository):
    def _value(self, row: CustomerRow) -> Customer:
        self.vault.remember_customer_key(row.id, row.data_key_id)
        try:
            address = self.open_text(row.address_enc, "customers", "address", row.id, row.id)
            name = self.open_text(row.name_enc, "customers", "name", row.id, row.id)
        except DecryptionError:  # the key was destroyed: the person was erased
            address = name = ""
        return Customer(
            id=row.id,
            address=address,
            name=name,
            verified=row.verified,
            restricted=row.restricted,
            created_at=row.created_at,
            erased_at=row.erased_at,
        )

    def get(self, customer_id: str) -> Customer | None:
        row = self.session.get(CustomerRow, customer_id)
        return self._value(row) if row is not None else None

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
