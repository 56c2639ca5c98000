"""``mailbot customers restrict|unrestrict``, ``mailbot suppression add|list|export`` and
``mailbot tasks list|done``: restriction (R-A14), objection to direct marketing (R-A15) and the
recipients to tell (R-A13). Bad input is one line and exit status 2; nothing changes."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from mailbot.cli.common import opened_app
from mailbot.cli.customers import customers
from mailbot.cli.output import json_option, report, table

T = TypeVar("T")


def _fail(message: str) -> None:
    click.echo(f"mailbot: {message}", err=True)
    sys.exit(2)


def _run(ctx: click.Context, action: Callable[..., T], *args: object) -> T:
    try:
        with opened_app(ctx) as app:
            return action(app)(*args)  # type: ignore[no-any-return]
    except (LookupError, ValueError) as exc:
        _fail(str(exc).strip("'\""))
        raise AssertionError from exc  # _fail exits


_ACTOR = click.option("--actor", default="staff", envvar="MAILBOT_AS", help="Who decided (audited).")


@customers.command("restrict")
@click.argument("email")
@_ACTOR
@json_option()
@click.pass_context
def customers_restrict(ctx: click.Context, email: str, actor: str, as_json: bool) -> None:
    """Restrict the processing of a customer's data: kept, not used (art. 18)."""
    changed = _run(ctx, lambda app: app.rights.restrict, email, actor)
    report(
        as_json,
        {"restricted": True, "changed": bool(changed)},
        "restricted" if changed else "already restricted",
    )


@customers.command("unrestrict")
@click.argument("email")
@_ACTOR
@json_option()
@click.pass_context
def customers_unrestrict(ctx: click.Context, email: str, actor: str, as_json: bool) -> None:
    """Lift the restriction; the customer is told in the same step (art. 18(3))."""
    _run(ctx, lambda app: app.rights.unrestrict, email, actor)
    report(
        as_json,
        {"restricted": False, "letter": "queued"},
        "restriction lifted; the customer's letter is queued",
    )


@click.group()
def suppression() -> None:
    """The direct-marketing suppression list (objections, art. 21(3))."""


@suppression.command("add")
@click.argument("email")
@_ACTOR
@json_option()
@click.pass_context
def suppression_add(ctx: click.Context, email: str, actor: str, as_json: bool) -> None:
    """Never send marketing to EMAIL again (kept as a keyed hash, so it survives erasure)."""
    if "@" not in email:
        _fail("give an e-mail address")
    added = _run(ctx, lambda app: app.rights.suppress, email, actor)
    line = "added to the suppression list" if added else "already on the suppression list"
    report(as_json, {"suppressed": True, "added": bool(added)}, line)


@suppression.command("export")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file.",
)
@json_option("[{email, since}] instead of CSV.")
@click.pass_context
def suppression_export(ctx: click.Context, out_file: Path | None, as_json: bool) -> None:
    """The addresses the marketing tool must never mail (CSV: email, since). Entries of people
    since erased have no address any more: they are counted on stderr, not exported."""
    rows = _run(ctx, lambda app: app.rights.suppressed)
    known = [(address, since) for address, since in rows if address]
    if as_json:
        text = json.dumps([{"email": a, "since": s.isoformat()} for a, s in known])
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["email", "since"])
        writer.writerows((a, s.date().isoformat()) for a, s in known)
        text = buffer.getvalue()
    if out_file is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        out_file.write_text(text, encoding="utf-8")
        out_file.chmod(0o600)
    erased = len(rows) - len(known)
    if erased:
        click.echo(
            f"{erased} entr{'y' if erased == 1 else 'ies'} of erased people (hash only) not exported",
            err=True,
        )


@click.group()
def tasks() -> None:
    """Recipients of the data to tell after a rectification, erasure or restriction (art. 19)."""


@tasks.command("list")
@json_option()
@click.pass_context
def tasks_list(ctx: click.Context, as_json: bool) -> None:
    """Open tasks, oldest first."""
    rows = _run(ctx, lambda app: app.rights.tasks)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": t.id,
                        "reference": t.reference,
                        "recipient": t.recipient,
                        "action": t.action,
                        "created_at": t.created_at.isoformat(),
                    }
                    for t in rows
                ]
            )
        )
        return
    table(
        ("ID", "CREATED", "ACTION", "RECIPIENT", "REFERENCE"),
        [(t.id, t.created_at.date().isoformat(), t.action, t.recipient, t.reference) for t in rows],
        "no open tasks",
    )


@tasks.command("done")
@click.argument("task_id", type=int)
@_ACTOR
@json_option()
@click.pass_context
def tasks_done(ctx: click.Context, task_id: int, actor: str, as_json: bool) -> None:
    """Mark a recipient as told."""
    task = _run(ctx, lambda app: app.rights.task_done, task_id, actor)
    data = {"id": task.id, "recipient": task.recipient, "action": task.action, "done": True}
    report(as_json, data, f"task {task.id}: {task.recipient} told ({task.action})")


commands = [suppression, tasks]
