"""What every SQL repository shares: the transaction's session and the vault that seals for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mailbot.adapters.db.vault import SYSTEM_OWNER, Vault

MESSAGE_ID_PURPOSE = "message-id"
ADDRESS_PURPOSE = "address"


class SqlRepository:
    """Base of the repositories: one session (the unit of work's), the vault, and the clock-free
    helpers that bind (table, column, row id, owner) into every ciphertext (R-D2)."""

    def __init__(self, session: Session, vault: Vault) -> None:
        self.session = session
        self.vault = vault

    def address_index(self, address: str) -> str:
        return self.vault.keyring.blind_index(address, ADDRESS_PURPOSE)

    def message_id_index(self, message_id: str) -> str:
        return self.vault.keyring.blind_index(message_id.strip(), MESSAGE_ID_PURPOSE)

    def key_for(self, customer_id: str | None, now: datetime) -> tuple[int, str]:
        """(data key id, owner) for a row of ``customer_id``, or the system key for nobody's data."""
        if customer_id is None:
            return self.vault.system_key(self.session, now), SYSTEM_OWNER
        return self.vault.customer_key(self.session, customer_id), customer_id

    def seal(
        self, key_id: int, table: str, column: str, row_id: str, owner: str, value: str | bytes | None
    ) -> bytes | None:
        return self.vault.seal(self.session, key_id, (table, column, row_id, owner), value)

    def open_text(self, ciphertext: bytes | None, table: str, column: str, row_id: str, owner: str) -> str:
        return self.vault.open_text(self.session, ciphertext, (table, column, row_id, owner)) or ""

    def open_bytes(self, ciphertext: bytes | None, table: str, column: str, row_id: str, owner: str) -> bytes:
        return self.vault.open(self.session, ciphertext, (table, column, row_id, owner)) or b""


def owner_of(customer_id: str | None) -> str:
    return customer_id or SYSTEM_OWNER
