"""Staff web accounts for tests (issue 18): enrol through the real use cases, codes from pyotp."""

from __future__ import annotations

from datetime import datetime

import pyotp

from mailbot.bootstrap import App

PASSWORD = "paard batterij nietje correct"


def code_at(secret: str, moment: datetime) -> str:
    """The authenticator app's code at ``moment``."""
    return pyotp.TOTP(secret).at(moment)


def enrol(app: App, email: str, role: str = "staff", password: str = PASSWORD) -> tuple[str, list[str]]:
    """Add and enrol ``email``; (TOTP secret, recovery codes). The enrolment used the current
    time step, so the caller advances the clock 30 s before logging in with a fresh code."""
    token = app.accounts.add(email, role)
    secret = app.accounts.begin_enrolment(token).secret
    codes = app.accounts.complete_enrolment(token, password, code_at(secret, app.clock()))
    return secret, codes
