"""``mailbot audit …``, ``mailbot customers …`` and ``mailbot suppression …``: the privacy rights
(issue 12) from the command line. Thin: every command calls one use case on the App."""

from __future__ import annotations

import sys

import click

from mailbot.cli.common import opened_app


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Walk the hash chain; name the first broken link (exit 1) or say it holds."""
    with opened_app(ctx) as app:
        report = app.audit.verify()
    if report.ok:
        click.echo(f"audit trail intact: {report.events} events")
        return
    click.echo(f"audit trail broken at {report.broken}", err=True)
    sys.exit(1)


commands = [audit]
