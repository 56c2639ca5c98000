"""A lease in the application database: one holder at a time for jobs that must not run twice.

Several ``mailbot run`` processes may share one PostgreSQL database; the outbox drain is safe to
run everywhere (``SKIP LOCKED``), but the deadline sweep and the digest are cheaper and quieter on
one instance. The lease is a row in ``leases`` that its holder renews on every run; when the holder
dies, the row expires after ``ttl`` and the next instance takes it over. The take-over is a single
conditional UPDATE (or an INSERT under the primary key), so two contenders can never both win.
The unique step keys of the sweep remain the real guarantee; the lease only avoids wasted work.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from mailbot.adapters.db.models import Lease
from mailbot.adapters.db.store import Store


def new_holder() -> str:
    """An identity unique to this process (host and pid make it readable in the table)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire(store: Store, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew lease ``name`` until ``now + ttl``; True when ``holder`` has it afterwards."""
    result = store.session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if isinstance(result, CursorResult) and result.rowcount:
        return True
    if store.session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
        return False  # held by someone else, not expired
    try:
        with store.session.begin_nested():
            store.session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
            store.session.flush()
    except IntegrityError:
        return False  # another instance inserted it first
    return True


def release(store: Store, name: str, holder: str) -> None:
    """Give the lease up early (clean shutdown), so another instance need not wait for the ttl."""
    store.session.execute(
        delete(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .execution_options(synchronize_session=False)
    )


def holder_of(store: Store, name: str, now: datetime) -> str | None:
    lease = store.session.get(Lease, name)
    return lease.holder if lease is not None and lease.expires_at > now else None
