"""Fixtures for tests against real services on loopback.

``dovecot`` starts one private Dovecot per test session (see tests/support/dovecot.py); ``imap``
hands the same server to a test with every folder emptied first, so tests stay independent without
paying for a server start each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.dovecot import DOVECOT_BINARY, DovecotError, DovecotServer
from tests.support.services import service_unavailable


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    if not os.path.exists(DOVECOT_BINARY):
        service_unavailable("Dovecot", f"{DOVECOT_BINARY} not installed (apt-get install -y dovecot-imapd)")
    server = DovecotServer()
    try:
        server.start()
    except (DovecotError, OSError) as exc:
        server.cleanup()
        service_unavailable("Dovecot", f"private instance did not start: {exc}")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def dovecot_tls() -> Iterator[DovecotServer]:
    """A second private Dovecot with a self-signed certificate: STARTTLS on ``port``, implicit
    TLS on ``tls_port``; trust it with ``ssl.create_default_context(cafile=str(server.ca_file))``."""
    if not os.path.exists(DOVECOT_BINARY):
        service_unavailable("Dovecot", f"{DOVECOT_BINARY} not installed (apt-get install -y dovecot-imapd)")
    server = DovecotServer(tls=True)
    try:
        server.start()
    except (DovecotError, OSError) as exc:
        server.cleanup()
        service_unavailable("Dovecot", f"private TLS instance did not start: {exc}")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def imap(dovecot: DovecotServer) -> DovecotServer:
    """The session's Dovecot with empty folders (and no leftover sessions)."""
    if not dovecot.running():  # a test stopped it and failed before restarting
        dovecot.start()
    dovecot.reset()
    return dovecot
