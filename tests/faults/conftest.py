"""Fault tests: each gets a private Dovecot (they stop, restart and rebuild it) and a sink."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.dovecot import DOVECOT_BINARY, DovecotError, DovecotServer
from tests.support.services import service_unavailable
from tests.support.smtp_sink import SmtpSink


@pytest.fixture
def private_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of this test's own (on /dev/shm when there is one: bulk loading is much faster)."""
    if not os.path.exists(DOVECOT_BINARY):
        service_unavailable("Dovecot", f"{DOVECOT_BINARY} not installed (apt-get install -y dovecot-imapd)")
    parent = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else "/tmp"
    server = DovecotServer(parent=parent)
    try:
        server.start()
    except (DovecotError, OSError) as exc:
        server.cleanup()
        service_unavailable("Dovecot", f"private instance did not start: {exc}")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    try:
        yield server
    finally:
        server.stop()
