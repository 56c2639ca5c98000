"""``mailbot customers erase EMAIL`` and ``mailbot retention purge``: erasure by crypto-shredding
(R-A12, R-D5) and the daily purge of what a legal duty kept once its term ended.

Example: mailbot customers erase jan@example.nl --yes
An erasure asked for by mail is carried out on its ticket instead (``tickets fulfil REF``), which
also sends the person the erasure report. Bad input is one line and exit status 2.
"""

from __future__ import annotations

import json
import sys

import click

from mailbot.cli.common import opened_app
from mailbot.cli.customers import customers
from mailbot.cli.output import json_option, report
from mailbot.cli.tickets import tickets
from mailbot.services.customers import CustomerInputError
from mailbot.services.erasure import ErasureRefused


@customers.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (it cannot be undone).")
@click.option("--actor", default="staff", envvar="MAILBOT_AS", help="Who decided (audited).")
@json_option("The report as JSON (counts, what was kept).")
@click.pass_context
def customers_erase(ctx: click.Context, email: str, yes: bool, actor: str, as_json: bool) -> None:
    """Erase everything held on EMAIL: their messages, attachments and details are deleted and
    their data key destroyed; what a configured legal duty keeps (privacy.retention) is kept apart
    under a retention key and named in the report. Cannot be undone."""
    if not yes and not click.confirm("Erase this person for good? It cannot be undone", err=True):
        click.echo("mailbot: nothing erased", err=True)
        sys.exit(1)
    try:
        with opened_app(ctx) as app:
            report = app.erasure.erase(email, actor)
    except (CustomerInputError, ErasureRefused) as exc:
        click.echo(f"mailbot: {exc}", err=True)
        sys.exit(2)
    kept = [
        {"duty": r.duty, "fields": sorted(r.values), "until": r.until.date().isoformat()}
        for r in report.retained
    ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "erasure": report.erasure_id,
                    "outcome": report.outcome,
                    "removed": dict(report.removed),
                    "retained": kept,
                }
            )
        )
        return
    removed = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in report.removed.items() if n)
    click.echo(f"erased ({removed or 'only the customer record'}); the data key is destroyed")
    for item in kept:
        click.echo(f"kept for {item['duty']} until {item['until']}: {', '.join(item['fields'])}")


@click.group()
def retention() -> None:
    """What legal duties keep after an erasure, and its purge when their term ends."""


@retention.command("purge")
@json_option()
@click.pass_context
def retention_purge(ctx: click.Context, as_json: bool) -> None:
    """Destroy retained records whose term ended and erasure reports sent over two weeks ago
    (``mailbot run`` does this daily at 03:15)."""
    with opened_app(ctx) as app:
        purged = app.erasure.purge()
    report(
        as_json,
        dict(purged),
        f"purged {purged['tickets']} closed ticket(s) past their term, {purged['retained']} retained "
        f"record(s), {purged['letters']} sent erasure report(s)",
    )


@tickets.command("hold")
@click.argument("ref")
@click.option("--reason", required=True, help="Why it is kept (a dispute, a legal claim); not stored.")
@click.option("--actor", default="staff", envvar="MAILBOT_AS", help="Who decided (audited).")
@json_option()
@click.pass_context
def tickets_hold(ctx: click.Context, ref: str, reason: str, actor: str, as_json: bool) -> None:
    """Keep REF's correspondence past its retention term (a legal hold) until released."""
    _hold(ctx, ref, reason, actor, hold=True, as_json=as_json)


@tickets.command("release")
@click.argument("ref")
@click.option("--actor", default="staff", envvar="MAILBOT_AS", help="Who decided (audited).")
@json_option()
@click.pass_context
def tickets_release(ctx: click.Context, ref: str, actor: str, as_json: bool) -> None:
    """Lift REF's legal hold: the retention purge may remove its correspondence again."""
    _hold(ctx, ref, "", actor, hold=False, as_json=as_json)


def _hold(ctx: click.Context, ref: str, reason: str, actor: str, *, hold: bool, as_json: bool) -> None:
    try:
        with opened_app(ctx) as app:
            changed = app.erasure.hold(ref, reason, actor, hold=hold)
    except ErasureRefused as exc:
        click.echo(f"mailbot: {exc}", err=True)
        sys.exit(2)
    state = "on legal hold" if hold else "released from legal hold"
    line = f"{ref.upper()} {state}" if changed else f"{ref.upper()} was {state} already"
    report(as_json, {"ref": ref.upper(), "hold": hold, "changed": bool(changed)}, line)


commands = [retention]
