"""``mailbot deadlines --once``, ``mailbot digest --dry-run|--send``, ``mailbot tickets extend``.

For cron users and for staff at the terminal; ``mailbot run`` does the same on its schedule.
Output names ticket references and counts only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import click

from mailbot.bootstrap import App
from mailbot.cli.common import build, require_once
from mailbot.cli.output import json_option, report, to_json
from mailbot.cli.tickets import tickets


@click.command("deadlines")
@click.option("--once", is_flag=True, help="One sweep over every open ticket, then exit (required).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def deadlines(ctx: click.Context, once: bool, as_json: bool) -> None:
    """Queue due reminders and escalations (each step once), mark overdue tickets, send the mail."""
    require_once(once, "deadlines", "one sweep over every open ticket, then exit", "sweeps every minute")
    app = build(ctx)
    try:
        report = app.deadlines.sweep()
        sent = app.drain_outbox()
    finally:
        app.close()
    counts = {**report.as_dict(), "mail_sent": sent}
    text = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items())
    click.echo(json.dumps(counts) if as_json else text)


@click.command("digest")
@click.option("--dry-run", "dry_run", is_flag=True, help="Print the digest; send nothing.")
@click.option("--send", "send_now", is_flag=True, help="Queue the digest to the staff list and send it now.")
@click.option("--even-if-empty", is_flag=True, help="Send it also when there is nothing to report.")
@json_option("With --dry-run: the digest's lists as JSON; with --send: {sent}.")
@click.pass_context
def digest(ctx: click.Context, dry_run: bool, send_now: bool, even_if_empty: bool, as_json: bool) -> None:
    """The daily digest: overdue, due within 24 hours, new, GDPR terms, failed mail, quarantine."""
    from mailbot.services import digest as digest_service

    if dry_run == send_now:
        raise click.UsageError("give exactly one of --dry-run or --send")
    app = build(ctx)
    try:
        if send_now:
            queued = app.deadlines.queue_digest(send_when_empty=even_if_empty)
            line = "digest sent" if queued else "nothing to report: no digest sent"
            report(as_json, {"sent": queued is not None}, line)
            return
        content, rendered = app.deadlines.preview_digest()
    finally:
        app.close()
    if as_json:
        click.echo(to_json({**content, "empty": digest_service.is_empty(content)}))
        return
    zone = ZoneInfo(app.org.timezone)
    click.echo(f"Subject: {rendered.subject}\n")
    click.echo(rendered.text.rstrip())
    if digest_service.is_empty(content):
        at = app.clock().astimezone(zone)
        click.echo(f"\n(nothing to report at {at:%Y-%m-%d %H:%M}: --send would send nothing)")


@tickets.command("extend")
@click.argument("ref")
@click.option("--months", type=click.IntRange(1, 2), required=True, help="1 or 2 further months (R-A5).")
@click.option("--reason", required=True, help="Why; the requester is told this reason.")
@click.option("--actor", default="staff", help="Who decided (recorded in the audit trail).")
@json_option()
@click.pass_context
def tickets_extend(ctx: click.Context, ref: str, months: int, reason: str, actor: str, as_json: bool) -> None:
    """Extend a GDPR request's legal term and send the requester the notice with the reason."""
    from mailbot.services.extensions import ExtensionRefused

    app = build(ctx)
    zone = ZoneInfo(app.org.timezone)
    try:
        result = app.tickets.extend(ref, months, reason, actor)
        sent = app.drain_outbox()
    except (ExtensionRefused, LookupError) as exc:
        app.close()
        raise click.ClickException(f"extension refused: {exc}") from exc
    app.close()
    line = (
        f"{result.ref}: legal deadline now {result.legal_due.astimezone(zone):%Y-%m-%d} "
        f"(was {result.original_due.astimezone(zone):%Y-%m-%d}; +{result.total_extra_months} months in total)"
    )
    conservative = result.legal_due_conservative
    if conservative is not None:
        line += f"; conservative reading {conservative.astimezone(zone):%Y-%m-%d}"
    data = {
        "ref": result.ref,
        "legal_due": result.legal_due.astimezone(zone).date(),
        "original_due": result.original_due.astimezone(zone).date(),
        "legal_due_conservative": conservative.astimezone(zone).date() if conservative else None,
        "extra_months": result.total_extra_months,
        "mail_sent": sent,
    }
    report(as_json, data, f"{line}; notice queued, mail sent: {sent}")


commands = [deadlines, digest]


def _decision(ctx: click.Context, action: Callable[[App], tuple[str, dict[str, Any]]], as_json: bool) -> None:
    """Run one decision (one transaction), send what it queued, and report (``--json``: the
    data); refusals exit 1."""
    from mailbot.services.decisions import DecisionRefused

    app = build(ctx)
    try:
        line, data = action(app)
        sent = app.drain_outbox()
    except (DecisionRefused, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        app.close()
    report(as_json, {**data, "mail_sent": sent}, line)


@tickets.command("pause")
@click.argument("ref")
@click.option("--actor", default="staff", help="Who sent the identity question.")
@json_option()
@click.pass_context
def tickets_pause(ctx: click.Context, ref: str, actor: str, as_json: bool) -> None:
    """The identity question went out: pause the legal clock (R-A7)."""

    def action(app: App) -> tuple[str, dict[str, Any]]:
        app.tickets.pause(ref, actor)
        return f"{ref.upper()}: legal clock paused", {"ref": ref.upper(), "paused": True}

    _decision(ctx, action, as_json)


@tickets.command("resume")
@click.argument("ref")
@click.option("--actor", default="staff", help="Who recorded the answer to the identity question.")
@json_option()
@click.pass_context
def tickets_resume(ctx: click.Context, ref: str, actor: str, as_json: bool) -> None:
    """The identity is settled: the legal clock runs again; shows the adjusted and unadjusted dates."""

    def action(app: App) -> tuple[str, dict[str, Any]]:
        due = app.tickets.resume(ref, actor)
        zone = ZoneInfo(app.org.timezone)
        adjusted = due.legal_due.astimezone(zone).date() if due.legal_due else None
        unadjusted = due.legal_due_unpaused.astimezone(zone).date() if due.legal_due_unpaused else None
        line = f"{ref.upper()}: legal deadline {adjusted or '-'} (without the pause: {unadjusted or '-'})"
        return line, {"ref": ref.upper(), "legal_due": adjusted, "legal_due_unpaused": unadjusted}

    _decision(ctx, action, as_json)


@tickets.command("refuse")
@click.argument("ref")
@click.option("--reason", "reasons", multiple=True, required=True, help="A reason the requester is given.")
@click.option(
    "--partial",
    is_flag=True,
    help="Part is honoured, part refused: the honoured part is carried out now (erasure, export, "
    "restriction, objection; a rectification must be made first with customers update).",
)
@click.option("--actor", required=True, help="Who decided: a refusal is always a human decision (R-A8).")
@json_option()
@click.pass_context
def tickets_refuse(
    ctx: click.Context, ref: str, reasons: tuple[str, ...], partial: bool, actor: str, as_json: bool
) -> None:
    """Refuse a GDPR request (or part of it) with reasons; the letter names the requester's remedies."""

    def action(app: App) -> tuple[str, dict[str, Any]]:
        refusal = app.tickets.refuse(ref, reasons, partial, actor)
        done = f"; carried out: {refusal.honoured}" if refusal.honoured else ""
        kind = "partial " if partial else ""
        line = f"{ref.upper()}: {kind}refusal sent with {len(reasons)} reason(s){done}"
        data = {"ref": ref.upper(), "partial": partial, "reasons": len(reasons), "honoured": refusal.honoured}
        return line, data

    _decision(ctx, action, as_json)
