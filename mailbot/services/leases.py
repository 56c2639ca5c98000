"""A lease in the application database: one holder at a time for jobs that must not run twice.

Several ``mailbot run`` processes may share one PostgreSQL database; the outbox drain is safe to
run everywhere (``SKIP LOCKED``), but the deadline sweep and the digest are cheaper and quieter on
one instance. The lease is a row its holder renews on every run; when the holder dies, the row
expires after ``ttl`` and the next instance takes it over (``uow.leases`` makes the take-over
atomic). The unique step keys of the sweep remain the real guarantee; the lease avoids wasted work.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from mailbot.services.repositories import UnitOfWork


def new_holder() -> str:
    """An identity unique to this process (host and pid make it readable in the table)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire(uow: UnitOfWork, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew lease ``name`` until ``now + ttl``; True when ``holder`` has it afterwards."""
    return uow.leases.acquire(name, holder, now, ttl)


def release(uow: UnitOfWork, name: str, holder: str) -> None:
    """Give the lease up early (clean shutdown), so another instance need not wait for the ttl."""
    uow.leases.release(name, holder)


def holder_of(uow: UnitOfWork, name: str, now: datetime) -> str | None:
    return uow.leases.holder_of(name, now)
