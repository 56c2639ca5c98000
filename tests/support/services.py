"""Whether a test may skip when a real service (Dovecot, PostgreSQL) is missing.

In CI (``CI=true``) or with ``MAILBOT_REQUIRE_SERVICES=1`` a missing service is a failure: the
suite must prove the real thing. On a developer laptop it is a loud skip.
"""

from __future__ import annotations

import os
import sys

import pytest


def services_required() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get(
        "MAILBOT_REQUIRE_SERVICES", ""
    ) in ("1", "true", "yes")


def service_unavailable(name: str, reason: str) -> None:
    """Fail (CI) or skip loudly (laptop) because ``name`` cannot be reached."""
    message = f"{name} unavailable: {reason}"
    if services_required():
        pytest.fail(message + " (required: CI or MAILBOT_REQUIRE_SERVICES=1)", pytrace=False)
    sys.stderr.write(f"\n*** SKIPPING {name} TESTS: {reason} ***\n")
    pytest.skip(message)
