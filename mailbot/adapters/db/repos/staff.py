"""Staff web accounts, recovery codes and sessions in SQL (issue 18). The TOTP secrets are sealed
with the system data key; passwords and tokens arrive hashed already."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update

from mailbot.adapters.db.models import StaffAccountRow, StaffRecoveryCode, StaffSessionRow
from mailbot.adapters.db.repos.base import SqlRepository
from mailbot.adapters.db.vault import SYSTEM_OWNER
from mailbot.domain.staff_account import StaffAccount, StaffSession
from mailbot.domain.staff_login import Role

_TABLE = "staff_accounts"


class SqlStaffAccounts(SqlRepository):
    """Implements ``StaffAccountRepository``."""

    def _open(self, row: StaffAccountRow) -> StaffAccount:
        def secret(value: bytes | None, column: str) -> str | None:
            return self.open_text(value, _TABLE, column, row.id, SYSTEM_OWNER) if value else None

        return StaffAccount(
            id=row.id,
            email=row.email,
            role=Role(row.role),
            created_at=row.created_at,
            password_hash=row.password_hash,
            password_changed_at=row.password_changed_at,
            totp_secret=secret(row.totp_secret_enc, "totp_secret_enc"),
            totp_pending=secret(row.totp_pending_enc, "totp_pending_enc"),
            totp_last_step=row.totp_last_step,
            enrol_token_hash=row.enrol_token_hash,
            enrol_expires_at=row.enrol_expires_at,
            failures=row.failures,
            last_failure_at=row.last_failure_at,
            disabled_at=row.disabled_at,
        )

    def _fill(self, row: StaffAccountRow, account: StaffAccount) -> None:
        key_id, owner = self.key_for(None, account.created_at)

        def seal(value: str | None, column: str) -> bytes | None:
            return self.seal(key_id, _TABLE, column, row.id, owner, value) if value else None

        row.email = account.email
        row.role = account.role.value
        row.password_hash = account.password_hash
        row.password_changed_at = account.password_changed_at
        row.totp_secret_enc = seal(account.totp_secret, "totp_secret_enc")
        row.totp_pending_enc = seal(account.totp_pending, "totp_pending_enc")
        row.totp_last_step = account.totp_last_step
        row.enrol_token_hash = account.enrol_token_hash
        row.enrol_expires_at = account.enrol_expires_at
        row.failures = account.failures
        row.last_failure_at = account.last_failure_at
        row.disabled_at = account.disabled_at

    def add(self, account: StaffAccount) -> None:
        row = StaffAccountRow(id=account.id, created_at=account.created_at)
        self._fill(row, account)
        self.session.add(row)
        self.session.flush()

    def get(self, account_id: str) -> StaffAccount | None:
        row = self.session.get(StaffAccountRow, account_id)
        return self._open(row) if row else None

    def by_email(self, email: str) -> StaffAccount | None:
        row = self.session.scalar(select(StaffAccountRow).where(StaffAccountRow.email == email.lower()))
        return self._open(row) if row else None

    def by_enrol_token(self, token_hash: str) -> StaffAccount | None:
        row = self.session.scalar(
            select(StaffAccountRow).where(StaffAccountRow.enrol_token_hash == token_hash)
        )
        return self._open(row) if row else None

    def save(self, account: StaffAccount) -> None:
        row = self.session.get(StaffAccountRow, account.id)
        if row is None:
            raise LookupError("no such staff account")
        self._fill(row, account)
        self.session.flush()

    def all(self) -> list[StaffAccount]:
        rows = self.session.scalars(select(StaffAccountRow).order_by(StaffAccountRow.email))
        return [self._open(r) for r in rows]

    def replace_recovery_codes(self, account_id: str, code_hashes: Sequence[str]) -> None:
        self.session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.account_id == account_id))
        self.session.add_all(StaffRecoveryCode(account_id=account_id, code_hash=h) for h in code_hashes)
        self.session.flush()

    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        done = self.session.execute(
            update(StaffRecoveryCode)
            .where(
                StaffRecoveryCode.account_id == account_id,
                StaffRecoveryCode.code_hash == code_hash,
                StaffRecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def unused_recovery_codes(self, account_id: str) -> int:
        rows = self.session.scalars(
            select(StaffRecoveryCode.id).where(
                StaffRecoveryCode.account_id == account_id, StaffRecoveryCode.used_at.is_(None)
            )
        )
        return len(list(rows))

    def add_session(self, session: StaffSession) -> None:
        self.session.merge(
            StaffSessionRow(
                token_hash=session.token_hash,
                account_id=session.account_id,
                csrf=session.csrf,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                must_change_password=session.must_change_password,
            )
        )
        self.session.flush()

    def find_session(self, token_hash: str) -> StaffSession | None:
        row = self.session.get(StaffSessionRow, token_hash)
        if row is None:
            return None
        return StaffSession(
            token_hash=row.token_hash,
            account_id=row.account_id,
            csrf=row.csrf,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            must_change_password=row.must_change_password,
        )

    def save_session(self, session: StaffSession) -> None:
        self.add_session(session)

    def drop_session(self, token_hash: str) -> None:
        self.session.execute(delete(StaffSessionRow).where(StaffSessionRow.token_hash == token_hash))

    def drop_sessions_of(self, account_id: str) -> None:
        self.session.execute(delete(StaffSessionRow).where(StaffSessionRow.account_id == account_id))
