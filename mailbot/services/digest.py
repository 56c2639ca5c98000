"""The daily digest to the staff list (issue 5): what is overdue, due soon, new, and broken.

The context follows ``templates/README.md`` (``digest``: ``date``, ``overdue``, ``due_soon``,
``past_internal_target``, ``triage`` of ``{ref, category, kind, due}``, ``failed`` of ``{ref,
reason}``) and adds what issue 5 also asks for: ``opened`` (tickets opened since the last digest),
``gdpr_open`` (open GDPR requests with their legal end date, and the unpaused date, R-A4/R-A7) and
``quarantined`` (a count). When the last digest went out is the newest ``digest.sent`` audit event,
so a restart or a second instance does not forget it.

No personal data: ticket references, categories and dates only; a delivery failure's server answer
is shown with any e-mail address in it masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from mailbot.adapters.db.models import AuditEvent, Outbox, Quarantine, Ticket
from mailbot.adapters.db.store import Store
from mailbot.domain.deadlines import Deadlines, past_internal_target
from mailbot.domain.model import GDPR_CATEGORIES, Category, Organisation
from mailbot.services.deadlines import CLOSED_STATUSES, DATE_DEADLINES, TEMPLATE_KIND, met_of
from mailbot.services.outbox import OutboxPolicy, Rendered, Renderer, staff_mail

DIGEST_SENT = "digest.sent"
LIST_KEYS = ("overdue", "due_soon", "past_internal_target", "triage", "failed", "opened", "gdpr_open")
_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")


def last_digest_at(store: Store) -> datetime | None:
    return store.session.scalar(select(func.max(AuditEvent.at)).where(AuditEvent.kind == DIGEST_SENT))


def _row(ticket: Ticket, name: str, due: datetime, zone: ZoneInfo) -> dict[str, Any]:
    shown: datetime | date = due.astimezone(zone).date() if name in DATE_DEADLINES else due
    return {"ref": ticket.ref, "category": ticket.category, "kind": TEMPLATE_KIND[name], "due": shown}


def _open_deadlines(ticket: Ticket) -> list[tuple[str, datetime]]:
    """The deadlines still running on an open ticket, earliest first."""
    met = met_of(ticket)
    pairs = [
        ("first_response", ticket.first_response_due),
        ("legal", ticket.legal_due),
        ("resolution", ticket.resolution_due),
    ]
    return sorted(((n, d) for n, d in pairs if d is not None and not met[n]), key=lambda p: p[1])


def build_digest(
    store: Store, now: datetime, org: Organisation, *, due_soon: timedelta = timedelta(hours=24)
) -> dict[str, Any]:
    """The ``digest`` context value at ``now``."""
    zone = ZoneInfo(org.timezone)
    since = last_digest_at(store) or now - timedelta(hours=24)
    tickets = list(
        store.session.scalars(
            select(Ticket).where(Ticket.status.not_in(CLOSED_STATUSES)).order_by(Ticket.opened_at)
        )
    )
    digest: dict[str, Any] = {key: [] for key in LIST_KEYS}
    digest["date"] = now.astimezone(zone).date()
    digest["since"] = since
    for ticket in tickets:
        running = _open_deadlines(ticket)
        for name, due in running:
            if due <= now:
                digest["overdue"].append(_row(ticket, name, due, zone))
            elif due <= now + due_soon:
                digest["due_soon"].append(_row(ticket, name, due, zone))
        deadlines = Deadlines(
            first_response_due=ticket.first_response_due,
            legal_due=ticket.legal_due,
            internal_due=ticket.internal_due,
        )
        if ticket.internal_due and past_internal_target(deadlines, now, ticket.answered_at is not None):
            digest["past_internal_target"].append(_row(ticket, "internal", ticket.internal_due, zone))
        if ticket.triage:
            name, due = running[0] if running else ("first_response", ticket.received_at)
            digest["triage"].append(_row(ticket, name, due, zone))
        if ticket.opened_at > since:
            name, due = running[0] if running else ("first_response", ticket.received_at)
            digest["opened"].append(_row(ticket, name, due, zone))
        if Category(ticket.category) in GDPR_CATEGORIES and ticket.legal_due and ticket.answered_at is None:
            row = _row(ticket, "legal", ticket.legal_due, zone)
            unpaused = ticket.legal_due_unpaused
            row["unpaused_due"] = unpaused.astimezone(zone).date() if unpaused else row["due"]
            digest["gdpr_open"].append(row)
    digest["gdpr_open"].sort(key=lambda r: r["due"])
    refs = {ticket_id: ref for ticket_id, ref in store.session.execute(select(Ticket.id, Ticket.ref))}
    for outbox in store.session.scalars(
        select(Outbox).where(Outbox.status.in_(("failed", "bounced"))).order_by(Outbox.created_at)
    ):
        digest["failed"].append(
            {
                "ref": refs.get(outbox.ticket_id, "-") if outbox.ticket_id else "-",
                "purpose": outbox.purpose,
                "reason": _ADDRESS.sub("<adres>", outbox.last_error or "unknown"),
            }
        )
    digest["quarantined"] = int(
        store.session.scalar(select(func.count(Quarantine.id)).where(Quarantine.released_at.is_(None))) or 0
    )
    return digest


def is_empty(digest: Mapping[str, Any]) -> bool:
    """Nothing to report: no list has a row and nothing sits in quarantine."""
    return not any(digest[key] for key in LIST_KEYS) and not digest["quarantined"]


def digest_context(org: Organisation, digest: Mapping[str, Any]) -> dict[str, Any]:
    return {"org": {"name": org.name, "mailbox": org.mailbox, "website": org.domain}, "digest": dict(digest)}


def render_digest(renderer: Renderer, org: Organisation, digest: Mapping[str, Any]) -> Rendered:
    return renderer.render("digest", "nl", digest_context(org, digest))


def queue_digest(
    store: Store,
    renderer: Renderer,
    policy: OutboxPolicy,
    now: datetime,
    *,
    send_when_empty: bool = False,
    once_per_day: bool = False,
) -> Outbox | None:
    """Queue the digest to the staff list in this transaction; None when there was nothing to send.

    ``once_per_day`` (the scheduled job) gives the row a dedupe key per local date, so a second
    instance or a rerun the same day finds it and sends nothing.
    """
    org = policy.org
    digest = build_digest(store, now, org)
    if is_empty(digest) and not send_when_empty:
        store.audit("digest.empty", now)
        return None
    dedupe_key = f"digest:{digest['date'].isoformat()}" if once_per_day else None
    if dedupe_key and store.session.scalar(select(Outbox.id).where(Outbox.dedupe_key == dedupe_key)):
        return None
    row = staff_mail(
        store, renderer, policy, "digest", digest_context(org, digest), now, dedupe_key=dedupe_key
    )
    store.audit(
        DIGEST_SENT,
        now,
        outbox_id=row.id,
        **{key: len(digest[key]) for key in LIST_KEYS},
        quarantined=digest["quarantined"],
    )
    return row
