"""``mailbot tickets …`` and ``mailbot messages …``: staff views, decrypted on demand, never logged."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click

from mailbot.cli.common import opened_app
from mailbot.cli.output import json_option, report, table
from mailbot.domain.model import Ticket
from mailbot.mail.language import reads


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="minutes") if moment else None


def ticket_summary(ticket: Ticket, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "ref": ticket.ref,
        "category": ticket.category,
        "secondary": ticket.secondary,
        "status": ticket.status,
        "triage": ticket.triage,
        "language": ticket.language,
        "received_at": _local(ticket.received_at, zone),
        "opened_at": _local(ticket.opened_at, zone),
        "first_response_due": _local(ticket.first_response_due, zone),
        "first_responded_at": _local(ticket.first_responded_at, zone),
        "legal_due": _local(ticket.legal_due, zone),
        "legal_due_unpaused": _local(ticket.legal_due_unpaused, zone),
        "internal_due": _local(ticket.internal_due, zone),
        "resolution_due": _local(ticket.resolution_due, zone),
        "overdue": ticket.overdue,
    }


@click.group()
def tickets() -> None:
    """List and read tickets."""


_STATUSES = ["new", "open", "waiting", "resolved", "closed"]
_CATEGORIES = ["complaint", "access", "rectification", "erasure", "restriction", "objection", "other"]
_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)


def parse_span(value: str) -> timedelta:
    """``90m``, ``24h``, ``2d``, ``1w`` → a timedelta; ValueError with a one-line reason otherwise."""
    match = _SPAN.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 90m, 24h, 2d or 1w")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2].lower()]
    return timedelta(**{unit: int(match[1])})


def _span(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    try:
        return parse_span(value) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@tickets.command("list")
@click.option("--status", type=click.Choice(_STATUSES), default=None, help="Only this status.")
@click.option("--category", type=click.Choice(_CATEGORIES), default=None, help="Only this category.")
@click.option("--overdue", is_flag=True, help="Only tickets with a running deadline already passed.")
@click.option(
    "--due-within", callback=_span, default=None, help="Only a running deadline within e.g. 24h, 2d."
)
@click.option("--assignee", default=None, help="Only tickets assigned to this address ('-' for nobody).")
@click.option("--all", "show_all", is_flag=True, help="Include resolved and closed tickets.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_context
def tickets_list(
    ctx: click.Context,
    status: str | None,
    category: str | None,
    overdue: bool,
    due_within: timedelta | None,
    assignee: str | None,
    show_all: bool,
    as_json: bool,
) -> None:
    """Tickets sorted by their nearest running deadline (open ones unless --status or --all)."""
    from mailbot.services.ticket_views import TicketFilter

    wanted = TicketFilter(
        category=category,
        status=status,
        overdue=overdue,
        due_within=due_within,
        assignee=assignee,
        include_closed=show_all,
    )
    with opened_app(ctx) as app:
        zone = ZoneInfo(app.org.timezone)
        listing = app.views.list(wanted)
    summaries = []
    for row in listing.rows:
        summary = ticket_summary(row.ticket, zone)
        summary.update(
            assignee=row.ticket.assignee,
            next_deadline=row.next_deadline,
            next_due=_local(row.next_due, zone),
            overdue=row.overdue,
        )
        summaries.append(summary)
    if as_json:
        click.echo(json.dumps(summaries))
        return
    header = ("REF", "STATUS", "CATEGORY", "NEXT DEADLINE", "DUE", "ASSIGNEE", "FLAGS")
    rows_out = [
        (
            r["ref"],
            r["status"],
            r["category"],
            (r["next_deadline"] or "-").replace("_", " "),
            r["next_due"] or "-",
            r["assignee"] or "-",
            " ".join(f for f, on in (("OVERDUE", r["overdue"]), ("TRIAGE", r["triage"])) if on),
        )
        for r in summaries
    ]
    table(header, rows_out, "no tickets")


@tickets.command("show")
@click.argument("ref")
@json_option()
@click.option(
    "--despite-restriction",
    "reason",
    default=None,
    help="Show a restricted customer's correspondence anyway, for this reason (legal claims; audited).",
)
@click.pass_context
def tickets_show(ctx: click.Context, ref: str, as_json: bool, reason: str | None) -> None:
    """The ticket with its decrypted thread (for staff eyes only). A customer whose data is
    restricted (R-A14) shows only the ticket's dates unless a reason is given."""
    with opened_app(ctx) as app, app.database.transaction() as uow:
        zone = ZoneInfo(app.org.timezone)
        ticket = uow.tickets.by_ref(ref)
        if ticket is None:
            raise click.ClickException(f"no ticket {ref}")
        customer = uow.customers.get(ticket.customer_id)
        data = ticket_summary(ticket, zone)
        if customer is not None and customer.restricted:
            if not (reason and reason.strip()):
                data["restricted"] = True
                if as_json:
                    click.echo(json.dumps(data))
                else:
                    click.echo(f"{data['ref']}  [{data['status']}]  {data['category']}  RESTRICTED")
                    click.echo(
                        "The processing of this customer's data is restricted (GDPR art. 18): the "
                        "correspondence is not shown. Use --despite-restriction REASON if you must."
                    )
                return
            uow.audit.record(
                "ticket.viewed_restricted",
                app.clock(),
                ticket_id=ticket.id,
                actor=os.environ.get("MAILBOT_AS", "staff"),
                reason_length=len(reason.strip()),
            )
        data["subject"] = uow.tickets.subject(ticket)
        data["assignee"] = ticket.assignee
        data["rule"] = ticket.rule
        data["confidence"] = ticket.confidence
        data["evidence"] = uow.tickets.evidence(ticket)
        data["customer"] = {
            "address": customer.address if customer else "",
            "name": customer.name if customer else "",
        }
        data["messages"] = [
            {
                "direction": m.direction,
                "kind": m.kind,
                "received_at": _local(m.received_at, zone),
                "from": m.sender,
                "subject": m.subject,
                "body": m.body,
                "possible_duplicate": m.possible_duplicate,
                "attachments": [
                    {"filename": a.filename, "content_type": a.content_type, "size": len(a.content)}
                    for a in uow.messages.attachments(m.id)
                ],
            }
            for m in uow.messages.of_ticket(ticket.id)
        ]
        data["events"] = [
            {"at": _local(e.at, zone), "kind": e.kind, "actor": e.actor, "reason": _event_reason(e)}
            for e in uow.audit.of_ticket(ticket.id)
        ]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(
        f"{data['ref']}  [{data['status']}]  {data['category']}"
        f"{' (+' + data['secondary'] + ')' if data['secondary'] else ''}"
        f"{'  TRIAGE' if data['triage'] else ''}"
    )
    click.echo(f"subject:   {data['subject']}")
    click.echo(f"customer:  {data['customer']['name']} <{data['customer']['address']}>")
    click.echo(f"reads:     {reads(data['language'])}")
    click.echo(f"received:  {data['received_at']}")
    click.echo(f"assignee:  {data['assignee'] or '-'}")
    for label in ("first_response_due", "legal_due", "legal_due_unpaused", "internal_due", "resolution_due"):
        if data[label]:
            click.echo(f"{label.replace('_', ' ')}: {data[label]}")
    click.echo(
        f"why:       rule {data['rule']} (confidence {data['confidence']:.2f}); "
        f"evidence: {', '.join(data['evidence']) or '-'}"
    )
    for m in data["messages"]:
        click.echo("-" * 72)
        dup = "  (possible duplicate)" if m["possible_duplicate"] else ""
        click.echo(f"{m['received_at']}  {m['direction']} {m['kind']}  from {m['from']}{dup}")
        click.echo(f"Subject: {m['subject']}\n")
        click.echo(m["body"].rstrip())
        for a in m["attachments"]:
            click.echo(f"[attachment] {a['filename']} ({a['content_type']}, {a['size']} bytes)")
    if data["events"]:
        click.echo("-" * 72)
        click.echo("events:")
        table(
            ("  AT", "EVENT", "BY", "WHY"),
            [(f"  {e['at']}", e["kind"], e["actor"], e.get("reason") or "") for e in data["events"]],
            "",
        )


_ACK_SKIP_WORDS = {
    "unanswerable-address": "no acknowledgement: no reply can be addressed to the sender",
    "no-sender": "no acknowledgement: the message has no readable sender",
    "null-return-path": "no acknowledgement: null return path (a bounce or system mail)",
    "own-address": "no acknowledgement: sent from one of our own addresses",
    "daily-cap": "no acknowledgement: the sender reached today's cap of automatic mails",
    "restricted": "no acknowledgement: processing of this person's data is restricted",
    "category": "no acknowledgement for this category",
}


def _event_reason(event: Any) -> str | None:
    """Why an acknowledgement was skipped, in words staff understand (issue 13); other events none."""
    if event.kind != "ack.skipped":
        return None
    reason = str((event.detail or {}).get("reason", ""))
    return _ACK_SKIP_WORDS.get(reason, f"no acknowledgement: {reason}" if reason else None)


@click.group()
def messages() -> None:
    """Messages outside tickets (automated mail), for a human to look at."""


@messages.command("list")
@click.option(
    "--automated", is_flag=True, required=True, help="List automated mail (out-of-office, bounces…)."
)
@json_option()
@click.pass_context
def messages_list(ctx: click.Context, automated: bool, as_json: bool) -> None:
    """Automated mail (out-of-office, bounces, lists), attached to a ticket or standing alone."""
    with opened_app(ctx) as app, app.database.transaction() as uow:
        zone = ZoneInfo(app.org.timezone)
        automated_mail = uow.messages.automated()
        refs = uow.tickets.refs({m.ticket_id for m in automated_mail if m.ticket_id})
        rows = [
            {
                "id": m.id,
                "received_at": _local(m.received_at, zone),
                "rule": m.rule,
                "ticket": refs.get(m.ticket_id) if m.ticket_id else None,
                "from": m.sender,
                "subject": m.subject,
            }
            for m in automated_mail
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    table(
        ("RECEIVED", "RULE", "TICKET", "FROM", "SUBJECT"),
        [(r["received_at"], r["rule"], r["ticket"], r["from"], r["subject"]) for r in rows],
        "no automated mail",
    )


commands = [tickets, messages]


@tickets.command("reclassify")
@click.argument("ref")
@click.argument(
    "category",
    type=click.Choice(
        ["complaint", "access", "rectification", "erasure", "restriction", "objection", "other"]
    ),
)
@click.option("--actor", default="staff", help="Who decided (recorded in the audit events).")
@json_option()
@click.pass_context
def tickets_reclassify(ctx: click.Context, ref: str, category: str, actor: str, as_json: bool) -> None:
    """Correct a ticket's category; its deadlines follow the new category."""
    from mailbot.domain.model import Category

    try:
        with opened_app(ctx) as app:
            previous, new = app.tickets.reclassify(ref, Category(category), actor)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    data = {"ref": ref.upper(), "previous": str(previous), "category": str(new)}
    report(as_json, data, f"{ref.upper()}: {previous} → {new}")
