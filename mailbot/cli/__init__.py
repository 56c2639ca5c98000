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

from mailbot.cli.common import MailbotGroup, build, load, opened_app, require_once, settings_of
from mailbot.cli.examples import add_examples
from mailbot.cli.output import json_option, report, table
from mailbot.errors import error_kind_words, plain_reason


@click.group(cls=MailbotGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="mailbot.toml (default: $MAILBOT_CONFIG, else the embedded defaults).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and the traceback of a failure.")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """mailbot: the info@ mailbox as encrypted, deadline-tracked tickets.

    Every command has --help with an example; reporting commands take --json. Bad input is one
    line and exit status 2; a failure one line and exit status 1 (-v shows the traceback).

    \b
    Shell completion (bash; zsh_source, fish_source likewise):
      eval "$(_MAILBOT_COMPLETE=bash_source mailbot)"
    """
    from mailbot import logsetup
    from mailbot.adapters.malloc import map_large_blocks_apart

    logsetup.configure(verbose)
    map_large_blocks_apart()
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["verbose"] = verbose


@main.command()
@json_option()
@click.pass_context
def init(ctx: click.Context, as_json: bool) -> None:
    """Create the storage directory, the key file, the database schema and the text model."""
    settings = settings_of(ctx)
    echo = (lambda _: None) if as_json else click.echo
    trained: int | None = None
    from mailbot.adapters.maildir import ensure_maildir

    ensure_maildir(settings.storage.inbox_dir)
    ensure_maildir(settings.storage.sent_dir)
    model = settings.model
    if model is not None and model.enabled and not model.file.exists():
        if any(p.is_dir() for p in model.corpus):
            from mailbot.cli.model import train_model
            from mailbot.policies import organisation_of

            meta = train_model(
                tuple(p for p in model.corpus if p.is_dir()), model.file, organisation_of(settings)
            )
            trained = int(meta["examples"])
            echo(f"text model trained on {trained} labelled messages: {model.file}")
        else:
            echo(f"no labelled corpus at {', '.join(map(str, model.corpus))}: the rules classify alone")
    app = build(ctx, settings)
    app.close()
    data = {"storage": str(settings.storage.dir), "model_trained_on": trained}
    report(as_json, data, f"initialised {settings.storage.dir} (database and key ready)")


@main.command("check-config")
@click.option("--connect", is_flag=True, help="Also try the database, IMAP and SMTP.")
@json_option("The checks as JSON: [{check, ok, detail}].")
@click.pass_context
def check_config(ctx: click.Context, connect: bool, as_json: bool) -> None:
    """Validate the configuration; with --connect, reach every service and report each.

    A bad configuration is one line per problem on stderr and exit status 2, JSON or not."""
    settings = settings_of(ctx)
    checks: list[dict[str, Any]] = [{"check": "configuration", "ok": True, "detail": ""}]
    model = settings.model
    if model is not None and model.enabled and not model.file.exists():
        detail = f"none at {model.file}, the rules classify alone (mailbot model train)"
        checks.append({"check": "text model", "ok": True, "detail": detail})
    warning = _promise_warning(settings)
    if warning:
        checks.append({"check": "deadlines", "ok": True, "detail": warning})
    if connect:
        for name, probe in _probes(settings):
            try:
                checks.append({"check": name, "ok": True, "detail": probe() or ""})
            except Exception as exc:
                checks.append({"check": name, "ok": False, "detail": plain_reason(exc)})
    if as_json:
        click.echo(json.dumps(checks))
    else:
        for c in checks:
            if c["check"] in ("text model", "deadlines"):
                click.echo(f"{c['check']}: {c['detail']}")
                continue
            state = "ok" if c["ok"] else "FAILED"
            detail = f" ({c['detail']})" if c["detail"] else ""
            click.echo(f"{c['check']}: {state}{detail}")
    if not all(c["ok"] for c in checks):
        sys.exit(1)


def _promise_warning(settings: Any) -> str | None:
    """Issue 17: the letter's promise must not come before the internal deadline staff work to."""
    from mailbot.domain.promise import promise_before_ladder
    from mailbot.policies import deadline_policy_of, response_promise_of

    d = settings.deadlines
    if promise_before_ladder(response_promise_of(settings), deadline_policy_of(settings)) is None:
        return None
    return (
        f"warning: promise_mode {d.promise_mode.value} promises the customer an answer before the "
        f"internal deadline (hours_mode {d.hours_mode.value}); reminders would come after the promise"
    )


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
    """Database, source and the running service's last intake pass; exit 1 if any is unhealthy
    (the container HEALTHCHECK)."""
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
@json_option()
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
    for row in rows:
        row["reason"] = error_kind_words(str(row["error"]))
    if as_json:
        click.echo(json.dumps(rows))
        return
    table(
        ("ID", "QUARANTINED", "ATTEMPTS", "REASON", "DETAIL"),
        [
            (
                r["id"],
                r["quarantined_at"][:16].replace("T", " "),
                r["attempts"],
                r["reason"],
                r["detail"][:90],
            )
            for r in rows
        ],
        "quarantine is empty",
    )


@quarantine.command("retry")
@click.argument("quarantine_id", type=int)
@json_option()
@click.pass_context
def quarantine_retry(ctx: click.Context, quarantine_id: int, as_json: bool) -> None:
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
    report(as_json, {"id": quarantine_id, "outcome": outcome}, f"message {quarantine_id}: {outcome}")
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
add_examples(main)  # after every command is registered

__all__ = ["load", "main"]

if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
