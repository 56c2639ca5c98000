"""Checking the audit trail: walk the hash chain and name the first broken link (R-A18)."""

from __future__ import annotations

from mailbot.domain.audit_chain import ChainReport, verify_chain
from mailbot.services.repositories import UnitOfWork


def verify(uow: UnitOfWork) -> ChainReport:
    """The head first, then the events up to it: a writer committing meanwhile adds events past
    the head this walk ignores, instead of looking like a break."""
    head = uow.audit.head()
    events = uow.audit.chain(until_seq=None if head is None else head[0])
    try:
        return verify_chain(events, head)
    finally:
        events.close()
