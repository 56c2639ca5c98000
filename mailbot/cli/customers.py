"""``mailbot customers …``: import from the customer administration, show, rectify, export
(issue 12). Thin: every command calls one use case on the App; bad input is one line on stderr
and exit status 2, and no command echoes a customer's data except ``show`` (which is for that).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from mailbot.cli.common import opened_app
from mailbot.cli.output import json_option, report, table
from mailbot.errors import plain_reason
from mailbot.services.customers import CustomerInputError, ImportRefused
from mailbot.services.repositories import Conflict


def _refuse(message: str) -> NoReturn:
    click.echo(f"mailbot: {message}", err=True)
    sys.exit(2)


@click.group()
def customers() -> None:
    """The people mailbot holds data on: import, show, rectify, export."""


@customers.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path))
@click.option("--actor", default="staff", help="Who imports (recorded in the audit events).")
@json_option()
@click.pass_context
def customers_import(ctx: click.Context, csv_file: Path, actor: str, as_json: bool) -> None:
    """Create or update customers from CSV_FILE (header: name, company, address, email, phone).

    Every row is checked first; one bad row and nothing is imported (exit 2). An existing customer
    (same e-mail address) gets the non-empty cells of their row.
    """
    try:
        text = csv_file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        _refuse(f"cannot read {csv_file}: {plain_reason(exc)}")
    except UnicodeDecodeError:
        _refuse(f"{csv_file} is not UTF-8 text; save it as 'CSV UTF-8' and try again")
    try:
        with opened_app(ctx) as app:
            result = app.customers.import_csv(text, actor)
    except ImportRefused as exc:
        for problem in exc.problems:
            click.echo(f"mailbot: {csv_file.name}: {problem}", err=True)
        _refuse(str(exc))
    except Conflict:
        click.echo(
            "mailbot: a customer in the file was created meanwhile; nothing was imported, run it again",
            err=True,
        )
        sys.exit(1)
    counts = {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
    report(
        as_json,
        {"file": csv_file.name, **counts},
        f"imported {csv_file.name}: " + ", ".join(f"{n} {what}" for what, n in counts.items()),
    )


@customers.command("show")
@click.argument("email")
@json_option()
@click.pass_context
def customers_show(ctx: click.Context, email: str, as_json: bool) -> None:
    """The customer's decrypted fields and their tickets (for staff eyes only)."""
    try:
        with opened_app(ctx) as app:
            view = app.customers.show(email)
            zone = ZoneInfo(app.org.timezone)
    except CustomerInputError as exc:
        _refuse(str(exc))
    c = view.customer
    data: dict[str, Any] = {
        "email": c.address,
        "name": c.name,
        "company": c.company,
        "address": c.postal_address,
        "phone": c.phone,
        "source": c.source,
        "verified": c.verified,
        "restricted": c.restricted,
        "created_at": c.created_at.astimezone(zone).isoformat(timespec="minutes") if c.created_at else None,
        "tickets": [
            {
                "ref": t.ref,
                "category": t.category,
                "status": t.status,
                "opened_at": t.opened_at.astimezone(zone).isoformat(timespec="minutes"),
            }
            for t in view.tickets
        ],
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for label in ("email", "name", "company", "address", "phone"):
        value = str(data[label]).replace("\n", ", ")
        click.echo(f"{label + ':':<10} {value or '-'}")
    flags = [name for name in ("verified", "restricted") if data[name]]
    click.echo(f"{'source:':<10} {data['source']}{'  (' + ', '.join(flags) + ')' if flags else ''}")
    if not data["tickets"]:
        click.echo("tickets:   none")
        return
    click.echo("tickets:")
    table(
        ("  REF", "CATEGORY", "STATUS", "OPENED"),
        [(f"  {t['ref']}", t["category"], t["status"], t["opened_at"]) for t in data["tickets"]],
        "",
    )


@customers.command("update")
@click.argument("email")
@click.option("--name", default=None)
@click.option("--company", default=None)
@click.option("--address", default=None, help="The postal address.")
@click.option("--phone", default=None)
@click.option("--actor", default="staff", help="Who rectifies (recorded in the audit event).")
@json_option()
@click.pass_context
def customers_update(
    ctx: click.Context,
    email: str,
    name: str | None,
    company: str | None,
    address: str | None,
    phone: str | None,
    actor: str,
    as_json: bool,
) -> None:
    """Rectify the customer's fields (an empty value, e.g. --phone "", clears one).

    The old values are overwritten, not kept; the audit event names the fields only.
    """
    given = {"name": name, "company": company, "address": address, "phone": phone}
    changes = {k: v for k, v in given.items() if v is not None}
    try:
        with opened_app(ctx) as app:
            changed = app.customers.rectify(email, changes, actor)
    except CustomerInputError as exc:
        _refuse(str(exc))
    report(
        as_json,
        {"rectified": list(changed)},
        f"rectified: {', '.join(changed)}" if changed else "nothing changed (the values were the same)",
    )


@customers.command("export")
@click.argument("email")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for export-<date>.zip (created 0700 if missing).",
)
@click.option(
    "--language", type=click.Choice(["nl", "en"]), default=None, help="Default: their latest ticket's."
)
@click.option("--actor", default="staff", help="Who exports (recorded in the audit event).")
@json_option()
@click.pass_context
def customers_export(
    ctx: click.Context, email: str, out_dir: Path, language: str | None, actor: str, as_json: bool
) -> None:
    """Everything held on the person (art. 15): data.json, index.html with the art. 15 information,
    attachments and original mails, zipped into DIR/export-<date>.zip. Hand it to the verified
    address only."""
    from mailbot.adapters.access_package import PackageTemplateError

    try:
        with opened_app(ctx) as app:
            path, counts = app.customers.export(email, out_dir, language, actor)
    except CustomerInputError as exc:
        _refuse(str(exc))
    except PackageTemplateError as exc:
        _refuse(f"export template error: {exc}")
    except OSError as exc:
        _refuse(f"cannot write to {out_dir}: {plain_reason(exc)}")
    if as_json:
        report(True, {"file": str(path), **counts}, "")
        return
    click.echo(
        f"{path}: {counts['tickets']} ticket(s), {counts['messages']} message(s), "
        f"{counts['attachments']} attachment(s), {counts['original_mail']} original mail(s), "
        f"{counts['audit_events']} audit event(s)"
        + (f"; {counts['withheld']} message(s) by other people withheld" if counts["withheld"] else "")
    )


commands = [customers]
