"""A staff member's web account and login session as plain values (issue 18).

The repositories turn them into rows (the TOTP secret sealed); services change them with the rules
in ``staff_login``. Nothing here holds a password or a session token in the clear: only their
hashes (argon2id for the password, SHA-256 for the random tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailbot.domain.staff_login import Role


@dataclass
class StaffAccount:
    id: str
    email: str
    role: Role
    created_at: datetime
    password_hash: str | None = None
    password_changed_at: datetime | None = None
    #: The authenticator secret once enrolment confirmed it; ``totp_pending`` until then.
    totp_secret: str | None = None
    totp_pending: str | None = None
    totp_last_step: int | None = None
    enrol_token_hash: str | None = None
    enrol_expires_at: datetime | None = None
    failures: int = 0
    last_failure_at: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def enrolled(self) -> bool:
        return self.password_hash is not None and self.totp_secret is not None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass
class StaffSession:
    """A server-side login session; the cookie holds the token, the database its hash."""

    token_hash: str
    account_id: str
    csrf: str
    created_at: datetime
    last_seen_at: datetime
    must_change_password: bool = False
