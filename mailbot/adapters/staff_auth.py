"""The login's cryptographic parts (issue 18): argon2id password hashes (argon2-cffi), the zxcvbn
strength score and RFC 6238 TOTP codes (pyotp). Services see them through ``ports``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyotp
from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

#: Codes one step either side still count: a phone clock 30 seconds off is common.
DRIFT_STEPS = 1


class Argon2Hasher:
    """argon2id with argon2-cffi's defaults (RFC 9106's second recommended profile)."""

    def __init__(self) -> None:
        self._hasher = _Argon2()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(hashed, password))
        except (VerificationError, InvalidHashError):
            return False


def zxcvbn_score(password: str, user_inputs: Sequence[str]) -> int:
    """zxcvbn's 0-4 score; the address (and its parts) count as known words."""
    words = [w for value in user_inputs for w in (value, *value.replace("@", ".").split("."))]
    return int(zxcvbn(password[:200], user_inputs=words)["score"])


class PyotpAuthenticator:
    """Six-digit, 30-second TOTP (what every authenticator app speaks)."""

    def new_secret(self) -> str:
        return pyotp.random_base32()

    def matching_step(self, secret: str, code: str, now: datetime) -> int | None:
        code = code.strip().replace(" ", "")
        if not code.isdigit() or len(code) != 6:
            return None
        totp = pyotp.TOTP(secret)
        step = totp.timecode(now)
        for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
            if pyotp.utils.strings_equal(totp.generate_otp(candidate), code):
                return candidate
        return None

    def uri(self, secret: str, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)
