"""``mailbot …``: a thin shell over bootstrap and the services.

Configuration errors print one line naming the key and exit with status 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from mailbot.cli.common import build, load, opened_app, require_once, settings_of
from mailbot.errors import plain_reason


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="mailbot.toml (default: $MAILBOT_CONFIG, else the embedded defaults).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """mailbot: the info@ mailbox as encrypted, deadline-tracked tickets."""
    from mailbot import logsetup

    logsetup.configure(verbose)
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the storage directory, the key file, the database schema and the text model."""
    settings = settings_of(ctx)
    from mailbot.adapters.maildir import ensure_maildir

    ensure_maildir(settings.storage.inbox_dir)
    ensure_maildir(settings.storage.sent_dir)
    model = settings.model
    if model is not None and model.enabled and not model.file.exists():
        if any(p.is_dir() for p in model.corpus):
            from mailbot.cli.model import train_model

            meta = train_model(tuple(p for p in model.corpus if p.is_dir()), model.file)
            click.echo(f"text model trained on {meta['examples']} labelled messages: {model.file}")
        else:
            click.echo(f"no labelled corpus at {', '.join(map(str, model.corpus))}: the rules classify alone")
    app = build(ctx, settings)
    app.close()
    click.echo(f"initialised {settings.storage.dir} (database and key ready)")


@main.command("check-config")
@click.option("--connect", is_flag=True, help="Also try the database, IMAP and SMTP.")
@click.pass_context
def check_config(ctx: click.Context, connect: bool) -> None:
    """Validate the configuration; with --connect, reach every service and report each."""
    settings = settings_of(ctx)
    click.echo("configuration: ok")
    model = settings.model
    if model is not None and model.enabled and not model.file.exists():
        click.echo(f"text model: none at {model.file}, the rules classify alone (mailbot model train)")
    if not connect:
        return
    failures = 0
    for name, probe in _probes(settings):
        try:
            detail = probe()
            click.echo(f"{name}: ok{f' ({detail})' if detail else ''}")
        except Exception as exc:
            failures += 1
            click.echo(f"{name}: FAILED ({plain_reason(exc)})")
    if failures:
        sys.exit(1)


def _probes(settings: Any) -> list[tuple[str, Any]]:
    """What ``check-config --connect`` tries, each a callable returning a detail; nothing is created
    (a SQLite file that does not exist yet is reported, not made) and what is not configured is
    said, not silently skipped."""

    def database() -> str:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from mailbot.adapters.db.engine import make_engine

        url = make_url(settings.storage.database_url)
        file = url.database if url.get_backend_name() == "sqlite" and url.database != ":memory:" else None
        if file and not Path(file).exists():
            return f"sqlite {file} does not exist yet (mailbot init creates it)"
        engine = make_engine(settings.storage.database_url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        finally:
            engine.dispose()
        return engine.dialect.name

    probes: list[tuple[str, Any]] = [("database", database)]
    if settings.imap.enabled:

        def imap() -> str:
            from mailbot.bootstrap import imap_source_of

            source = imap_source_of(settings)
            try:
                info = source.check()
            finally:
                source.close()
            return ", ".join(f"{k}={v}" for k, v in info.items() if k != "capabilities")

        probes.append(("imap", imap))
    else:
        probes.append(("source", lambda: f"no IMAP configured: Maildir {settings.storage.inbox_dir}"))
    if settings.smtp.enabled:

        def smtp() -> str:
            from mailbot.bootstrap import mailer_of

            mailer = mailer_of(settings)
            check = getattr(mailer, "check_connection", None)
            return str(check()) if check else ""

        probes.append(("smtp", smtp))
    else:
        probes.append(
            ("smtp", lambda: f"not configured: outgoing mail goes to Maildir {settings.storage.sent_dir}")
        )
    return probes


@main.command()
@click.option("--json", "as_json", is_flag=True, help="The checks as JSON.")
@click.option("--no-service", is_flag=True, help="Skip the last-pass check (no mailbot run expected).")
@click.pass_context
def health(ctx: click.Context, as_json: bool, no_service: bool) -> None:
    """Database, source and the running service's last intake pass; exit 1 if any is unhealthy.

    Example (a container HEALTHCHECK): mailbot health
    """
    from datetime import UTC, datetime

    from mailbot.health import checks

    found = checks(settings_of(ctx), datetime.now(UTC), service=not no_service)
    if as_json:
        click.echo(json.dumps([{"check": c.name, "ok": c.ok, "detail": c.detail} for c in found]))
    else:
        for c in found:
            click.echo(f"{c.name}: {'ok' if c.ok else 'FAILED'} ({c.detail})")
    if not all(c.ok for c in found):
        sys.exit(1)


@main.command()
@click.option("--once", is_flag=True, help="One pass over the source, then exit (required).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_context
def fetch(ctx: click.Context, once: bool, as_json: bool) -> None:
    """Fetch and process everything the mailbox has now (``--once``; ``mailbot run`` keeps going)."""
    require_once(
        once, "fetch", "one pass over the mailbox, then exit", "fetches continuously (IDLE or polling)"
    )
    from mailbot.services.pipeline import run_pass

    app = build(ctx)
    source = app.source()
    on_tty = sys.stderr.isatty() and not as_json

    def progress(report: Any) -> None:
        if on_tty:
            click.echo(
                f"\rfetched {report.fetched} (new {report.stored}, seen {report.duplicates})",
                nl=False,
                err=True,
            )

    try:
        summary = run_pass(source, app.database, app.processor, app.clock, on_progress=progress)
        sent = app.drain_outbox()
    finally:
        source.close()
        app.close()
    if on_tty:
        click.echo("", err=True)
    counts = summary.as_dict()
    if as_json:
        click.echo(json.dumps(counts))
    else:
        click.echo(
            ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()) + f"; mail sent: {sent}"
        )


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the service: intake (IDLE or polling), the SMTP listener and the scheduled jobs."""
    from mailbot.runner import Runner

    app = build(ctx)
    Runner(app).run_forever()


@main.group()
def quarantine() -> None:
    """Messages that could not be processed (kept encrypted, with their error)."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quarantine_list(ctx: click.Context, as_json: bool) -> None:
    """Quarantined messages with their error and number of attempts."""
    with opened_app(ctx) as app, app.database.transaction() as uow:
        rows = [
            {
                "id": q.id,
                "raw_id": q.raw_id,
                "error": q.error,
                "attempts": q.attempts,
                "quarantined_at": q.quarantined_at.isoformat(),
                "detail": q.detail,
            }
            for q in uow.quarantine.entries()
        ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("quarantine is empty")
    for row in rows:
        click.echo(
            f"{row['id']:>5}  {row['quarantined_at'][:19]}  {row['error']}  attempts={row['attempts']}  "
            f"{row['detail'][:120]}"
        )


@quarantine.command("retry")
@click.argument("quarantine_id", type=int)
@click.pass_context
def quarantine_retry(ctx: click.Context, quarantine_id: int) -> None:
    """Re-run one quarantined message (after a fix to the rules or the code)."""
    from mailbot.services.ingest import TOO_LARGE
    from mailbot.services.process import process_one

    with opened_app(ctx) as app:
        with app.database.transaction() as uow:
            entry = next((e for e in uow.quarantine.entries() if e.id == quarantine_id), None)
            if entry is not None and entry.error == TOO_LARGE:
                # Only its first bytes were read: processing them would answer a fragment.
                raise click.ClickException(
                    f"message {quarantine_id} is over processing.max_message_bytes and was not read "
                    "whole: raise the limit and move it back to the inbox at the source"
                )
            raw_id = uow.quarantine.release(quarantine_id, app.clock())
        if raw_id is None:
            raise click.ClickException(f"no quarantined message with id {quarantine_id}")
        outcome = process_one(app.database, app.processor, app.clock, raw_id)
        while outcome == "retry":
            outcome = process_one(app.database, app.processor, app.clock, raw_id)
    click.echo(f"message {quarantine_id}: {outcome}")
    if outcome == "quarantined":
        sys.exit(1)


_OPTIONAL = {
    "mailbot.cli.tickets": None,
    "mailbot.cli.classify": "classify",
    "mailbot.cli.templates": "templates",
    "mailbot.cli.outbox": None,
    "mailbot.cli.rules": None,
    "mailbot.cli.deadlines": None,
    "mailbot.cli.privacy": None,
    "mailbot.cli.staff": None,  # adds reply/note/assign/status/close to ``tickets``
    "mailbot.cli.rights": None,  # adds restrict/unrestrict to ``customers``
    "mailbot.cli.customers": None,
    "mailbot.cli.keys": None,
    "mailbot.cli.backup": None,
    "mailbot.cli.erasure": None,  # adds erase to ``customers``; ``retention purge``
    "mailbot.cli.model": None,
    "mailbot.cli.web": "web",
}


def _register_optional() -> None:
    """Subcommands that live in their own modules: each exports ``command`` or ``commands``."""
    import importlib

    for module, name in _OPTIONAL.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        commands = getattr(mod, "commands", None)
        if commands is None:
            main.add_command(mod.command, name)
        else:
            for command in commands:
                main.add_command(command)


_register_optional()

__all__ = ["load", "main"]

if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
