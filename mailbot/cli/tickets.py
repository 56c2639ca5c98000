"""``mailbot tickets …`` and ``mailbot messages …``: staff views, decrypted on demand, never logged."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from mailbot.cli.common import opened_app
from mailbot.domain.model import Ticket


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


@tickets.command("list")
@click.option("--status", default=None, help="new, open, waiting, resolved or closed")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tickets_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """Tickets with their category, status and due dates, oldest first."""
    with opened_app(ctx) as app, app.database.transaction() as uow:
        zone = ZoneInfo(app.org.timezone)
        rows = [ticket_summary(t, zone) for t in uow.tickets.list(status=status)]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no tickets")
    for r in rows:
        due = r["legal_due"] or r["first_response_due"] or "-"
        flag = " TRIAGE" if r["triage"] else ""
        click.echo(f"{r['ref']}  {r['status']:<8} {r['category']:<13} due {due}{flag}")


@tickets.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tickets_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """The ticket with its decrypted thread (for staff eyes only)."""
    with opened_app(ctx) as app, app.database.transaction() as uow:
        zone = ZoneInfo(app.org.timezone)
        ticket = uow.tickets.by_ref(ref)
        if ticket is None:
            raise click.ClickException(f"no ticket {ref}")
        customer = uow.customers.get(ticket.customer_id)
        data = ticket_summary(ticket, zone)
        data["subject"] = uow.tickets.subject(ticket)
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
            {"at": _local(e.at, zone), "kind": e.kind, "actor": e.actor}
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
    click.echo(f"received:  {data['received_at']}")
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


@click.group()
def messages() -> None:
    """Messages outside tickets (automated mail), for a human to look at."""


@messages.command("list")
@click.option(
    "--automated", is_flag=True, required=True, help="List automated mail (out-of-office, bounces…)."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def messages_list(ctx: click.Context, automated: bool, as_json: bool) -> None:
    """Automated mail (out-of-office, bounces, lists), attached to a ticket or standing alone."""
    with opened_app(ctx) as app, app.database.transaction() as uow:
        zone = ZoneInfo(app.org.timezone)
        refs = uow.tickets.refs()
        rows = [
            {
                "id": m.id,
                "received_at": _local(m.received_at, zone),
                "rule": m.rule,
                "ticket": refs.get(m.ticket_id) if m.ticket_id else None,
                "from": m.sender,
                "subject": m.subject,
            }
            for m in uow.messages.automated()
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(
            f"{r['received_at']}  {r['rule'] or '-':<24} {r['ticket'] or '-':<16} {r['from']}  {r['subject']}"
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
@click.pass_context
def tickets_reclassify(ctx: click.Context, ref: str, category: str, actor: str) -> None:
    """Correct a ticket's category; its deadlines follow the new category."""
    from mailbot.domain.model import Category

    try:
        with opened_app(ctx) as app:
            previous, new = app.tickets.reclassify(ref, Category(category), actor)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{ref.upper()}: {previous} → {new}")
