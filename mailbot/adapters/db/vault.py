"""Field encryption bound to the database: which data key, which context, and a DEK cache.

Each ciphertext names its data key (``key_id_of``), so opening needs no schema knowledge beyond
the context (table, column, row id, owner) that was bound in as associated data (R-D2).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.adapters.crypto import Context, DecryptionError, Keyring, key_id_of, open_sealed, seal
from mailbot.adapters.db.models import DataKey

SYSTEM_OWNER = "system"
#: Where ``system_key`` keeps the key id for the rest of one transaction.
SYSTEM_KEY_INFO = "mailbot.system_key"
#: Owners of data keys that belong to no customer: a letter sealed apart, data a duty retains.
TRANSIENT_OWNER = "transient"
RETENTION_OWNER = "retention"


class KeyDestroyedError(DecryptionError):
    """The data key was crypto-shredded (R-D5): the data is gone by design."""


class Vault:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._deks: dict[int, bytes] = {}
        self._customer_keys: dict[str, int] = {}

    def new_key(self, session: Session, owner: str, now: datetime) -> int:
        dek, wrapped = self.keyring.new_data_key()
        row = DataKey(owner=owner, wrapped=wrapped, created_at=now)
        session.add(row)
        session.flush()
        self._deks[row.id] = dek
        return row.id

    def system_key(self, session: Session, now: datetime) -> int:
        """The key for data that belongs to no customer (staff notices, digests, sender-less mail).

        Remembered for the rest of the transaction (``session.info``), not the process: a key
        made by a transaction that rolls back must never be used again, so a savepoint that rolls
        back forgets it too (``SqlUnitOfWork.savepoint``)."""
        cached = session.info.get(SYSTEM_KEY_INFO)
        if cached is not None:
            return int(cached)
        key_id = session.scalar(
            select(DataKey.id).where(DataKey.owner == SYSTEM_OWNER).order_by(DataKey.id).limit(1)
        )
        if key_id is None:
            key_id = self.new_key(session, SYSTEM_OWNER, now)
        session.info[SYSTEM_KEY_INFO] = key_id
        return key_id

    def customer_key(self, session: Session, customer_id: str) -> int:
        """The data key id of ``customer_id`` (cached: a customer's key id never changes)."""
        key_id = self._customer_keys.get(customer_id)
        if key_id is None:
            from mailbot.adapters.db.models import Customer

            found = session.scalar(select(Customer.data_key_id).where(Customer.id == customer_id))
            if found is None:
                raise KeyDestroyedError(f"customer {customer_id} has no data key")
            key_id = self._customer_keys[customer_id] = found
        return key_id

    def remember_customer_key(self, customer_id: str, key_id: int) -> None:
        self._customer_keys[customer_id] = key_id

    def forget(self, key_id: int) -> None:
        """Drop a destroyed key from the cache, so nothing in this process can still use it."""
        self._deks.pop(key_id, None)
        for customer_id in [c for c, k in self._customer_keys.items() if k == key_id]:
            del self._customer_keys[customer_id]

    def _dek(self, session: Session, key_id: int) -> bytes:
        dek = self._deks.get(key_id)
        if dek is not None:
            return dek
        row = session.get(DataKey, key_id)
        if row is None or row.wrapped is None:
            raise KeyDestroyedError(f"data key {key_id} does not exist or was destroyed")
        dek = self.keyring.unwrap(row.wrapped)
        self._deks[key_id] = dek
        return dek

    def seal(
        self,
        session: Session,
        key_id: int,
        where: tuple[str, str, str, str],
        value: bytes | str | None,
    ) -> bytes | None:
        """Seal ``value`` for (table, column, row id, owner id); None stays None."""
        if value is None:
            return None
        data = value.encode("utf-8") if isinstance(value, str) else value
        return seal(self._dek(session, key_id), key_id, data, Context(*where))

    def open(
        self, session: Session, ciphertext: bytes | None, where: tuple[str, str, str, str]
    ) -> bytes | None:
        if ciphertext is None:
            return None
        key_id = key_id_of(ciphertext)
        return open_sealed(self._dek(session, key_id), ciphertext, Context(*where))

    def open_text(
        self, session: Session, ciphertext: bytes | None, where: tuple[str, str, str, str]
    ) -> str | None:
        data = self.open(session, ciphertext, where)
        return None if data is None else data.decode("utf-8")
