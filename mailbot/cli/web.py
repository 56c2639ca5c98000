"""``mailbot web``: the staff web interface (issue 18), on loopback behind a TLS reverse proxy."""

from __future__ import annotations

import click

from mailbot.cli.common import opened_app


@click.command("web")
@click.option("--host", default=None, help="Listen address (default web.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default web.port, 8080).")
@click.pass_context
def command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the staff web interface until stopped. Mail staff answer is queued in the outbox;
    ``mailbot run`` sends it (run both, or set web.enabled so ``run`` serves the pages too)."""
    from mailbot.web.server import server_of

    with opened_app(ctx) as app:
        server = server_of(app, host, port)
        web = app.settings.web
        click.echo(
            f"staff web interface on http://{server.config.host}:{server.config.port} ({web.base_url})"
        )
        server.run()
