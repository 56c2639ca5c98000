"""``mailbot audit …``, ``mailbot customers …`` and ``mailbot suppression …``: the privacy rights
(issue 12) from the command line. Thin: every command calls one use case on the App."""

from __future__ import annotations

import sys

import click

from mailbot.cli.common import opened_app
from mailbot.cli.output import json_option, report


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@json_option()
@click.pass_context
def audit_verify(ctx: click.Context, as_json: bool) -> None:
    """Walk the hash chain; name the first broken link (exit 1) or say it holds."""
    with opened_app(ctx) as app:
        result = app.audit.verify()
    if as_json:
        report(True, {"ok": result.ok, "events": result.events, "broken": result.broken}, "")
    elif result.ok:
        click.echo(f"audit trail intact: {result.events} events")
    else:
        click.echo(f"audit trail broken at {result.broken}", err=True)
    if not result.ok:
        sys.exit(1)


commands = [audit]
