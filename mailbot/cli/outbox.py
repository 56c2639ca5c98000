"""``mailbot send --once``: drain the outbox now (``mailbot run`` does it every few seconds)."""

from __future__ import annotations

import json

import click

from mailbot.cli.common import build, require_once


@click.command("send")
@click.option("--once", is_flag=True, help="Send everything due, then exit (required).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def send(ctx: click.Context, once: bool, as_json: bool) -> None:
    """Send everything due in the outbox now (mailbot run does this every few seconds)."""
    require_once(once, "send", "send everything due now, then exit", "sends every 10 seconds")
    app = build(ctx)
    try:
        report = app.outbox.drain()
    finally:
        app.close()
    counts = {"sent": report.sent, "retried": report.retried, "failed": report.failed}
    click.echo(json.dumps(counts) if as_json else ", ".join(f"{k}: {v}" for k, v in counts.items()))


commands = [send]
