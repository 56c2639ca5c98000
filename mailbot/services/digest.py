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

from mailbot.domain.deadlines import Deadlines, past_internal_target
from mailbot.domain.model import CLOSED_STATUSES, GDPR_CATEGORIES, Category, Organisation, Ticket
from mailbot.services.deadlines import DATE_DEADLINES, TEMPLATE_KIND, running_deadlines
from mailbot.services.outbox import OutboxPolicy, Rendered, Renderer, staff_mail
from mailbot.services.repositories import UnitOfWork

DIGEST_SENT = "digest.sent"
LIST_KEYS = (
    "overdue",
    "due_soon",
    "past_internal_target",
    "triage",
    "failed",
    "opened",
    "gdpr_open",
    "internal",
    "suspicious",
    "tasks",
)
_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")


def last_digest_at(uow: UnitOfWork) -> datetime | None:
    return uow.audit.last_at(DIGEST_SENT)


def _row(ticket: Ticket, name: str, due: datetime, zone: ZoneInfo) -> dict[str, Any]:
    shown: datetime | date = due.astimezone(zone).date() if name in DATE_DEADLINES else due
    return {"ref": ticket.ref, "category": ticket.category, "kind": TEMPLATE_KIND[name], "due": shown}


def build_digest(
    uow: UnitOfWork, now: datetime, org: Organisation, *, due_soon: timedelta = timedelta(hours=24)
) -> dict[str, Any]:
    """The ``digest`` context value at ``now``."""
    zone = ZoneInfo(org.timezone)
    since = last_digest_at(uow) or now - timedelta(hours=24)
    tickets = uow.tickets.open_tickets(CLOSED_STATUSES)
    digest: dict[str, Any] = {key: [] for key in LIST_KEYS}
    digest["date"] = now.astimezone(zone).date()
    digest["since"] = since
    for ticket in tickets:
        running = running_deadlines(ticket)
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
    failed = uow.outbox.failed()
    refs = uow.tickets.refs({o.ticket_id for o in failed if o.ticket_id}) if failed else {}
    for outbox in failed:
        digest["failed"].append(
            {
                "ref": refs.get(outbox.ticket_id, "-") if outbox.ticket_id else "-",
                "purpose": outbox.purpose,
                "reason": _ADDRESS.sub("<adres>", outbox.last_error or "unknown"),
            }
        )
    # Mail from our own people that was no valid staff reply, and reply-address mail that failed
    # its check (issue 11): kept, never relayed, and shown here so nobody's answer is lost.
    filed = uow.messages.filed_since(("internal", "suspicious"), since)
    refs = {**refs, **uow.tickets.refs({t for t, _, _ in filed if t})} if filed else refs
    for ticket_id, kind, received in filed:
        digest[kind].append(
            {"ref": refs.get(ticket_id, "-") if ticket_id else "-", "received_at": received.astimezone(zone)}
        )
    # Recipients of the data still to be told of a rectification, erasure or restriction (R-A13).
    for task in uow.privacy.open_tasks():
        digest["tasks"].append(
            {"id": task.id, "ref": task.reference, "recipient": task.recipient, "action": task.action}
        )
    digest["quarantined"] = uow.quarantine.count_open()
    # The daily backup's last outcome (issue 16): a failure stays visible until a backup succeeds.
    last_ok, last_failed = uow.audit.last_at("backup.created"), uow.audit.last_at("backup.failed")
    digest["backup"] = {
        "last_ok": last_ok.astimezone(zone) if last_ok else None,
        "failing": bool(last_failed and (last_ok is None or last_failed > last_ok)),
    }
    return digest


def is_empty(digest: Mapping[str, Any]) -> bool:
    """Nothing to report: no list has a row and nothing sits in quarantine."""
    return not any(digest[key] for key in LIST_KEYS) and not digest["quarantined"]


def digest_context(org: Organisation, digest: Mapping[str, Any]) -> dict[str, Any]:
    return {"org": {"name": org.name, "mailbox": org.mailbox, "website": org.domain}, "digest": dict(digest)}


def render_digest(renderer: Renderer, org: Organisation, digest: Mapping[str, Any]) -> Rendered:
    return renderer.render("digest", "nl", digest_context(org, digest))


def queue_digest(
    uow: UnitOfWork,
    renderer: Renderer,
    policy: OutboxPolicy,
    now: datetime,
    *,
    send_when_empty: bool = False,
    once_per_day: bool = False,
) -> str | None:
    """Queue the digest to the staff list in this transaction; None when there was nothing to send.

    ``once_per_day`` (the scheduled job) gives the row a dedupe key per local date, so a second
    instance or a rerun the same day finds it and sends nothing.
    """
    org = policy.org
    digest = build_digest(uow, now, org)
    if is_empty(digest) and not send_when_empty:
        uow.audit.record("digest.empty", now)
        return None
    dedupe_key = f"digest:{digest['date'].isoformat()}" if once_per_day else None
    if dedupe_key and uow.outbox.has_dedupe_key(dedupe_key):
        return None
    outbox_id = staff_mail(
        uow, renderer, policy, "digest", digest_context(org, digest), now, dedupe_key=dedupe_key
    )
    counts: dict[str, Any] = {key: len(digest[key]) for key in LIST_KEYS}
    uow.audit.record(
        DIGEST_SENT,
        now,
        outbox_id=outbox_id,
        **counts,
        quarantined=digest["quarantined"],
    )
    return outbox_id
