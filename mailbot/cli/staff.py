"""``mailbot tickets reply|note|assign|status|close``: staff answering from the command line.

The same use cases a staff reply by mail runs (``App.staff``). Who acts is ``--as`` (or
``MAILBOT_AS``), else the only staff address when there is one; it must be on the staff list and
is recorded in the audit trail. Bad input is one line on stderr and exit status 2; nothing changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from mailbot.cli.common import opened_app, settings_of
from mailbot.cli.output import json_option, report, table
from mailbot.cli.tickets import tickets
from mailbot.services.staff import STAFF_STATUSES

T = TypeVar("T")

_AS = click.option(
    "--as",
    "actor",
    envvar="MAILBOT_AS",
    default=None,
    help="Your staff address (or the part before the @); default $MAILBOT_AS, or the only staff address.",
)


def fail(message: str) -> None:
    click.echo(f"mailbot: {message}", err=True)
    sys.exit(2)


def _actor(ctx: click.Context, actor: str | None) -> str:
    if actor:
        return actor
    staff = settings_of(ctx).staff.addresses
    if len(staff) == 1:
        return staff[0]
    fail("say who you are: --as ADDRESS (or set MAILBOT_AS); it must be on staff.addresses")
    raise AssertionError  # fail exits


def _run(ctx: click.Context, action: Callable[..., T], *args: str) -> T:
    try:
        with opened_app(ctx) as app:
            return action(app)(*args)  # type: ignore[no-any-return]
    except (LookupError, ValueError) as exc:
        fail(str(exc).strip("'\""))
        raise AssertionError from exc  # fail exits


def _text(body_file: Path | None, what: str) -> str:
    """The text from --body-file (``-`` is stdin), else from $EDITOR, like ``git commit``."""
    if body_file is not None:
        try:
            return sys.stdin.read() if str(body_file) == "-" else body_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {body_file}: {getattr(exc, 'strerror', None) or 'not UTF-8 text'}")
    marker = f"# Write the {what} above this line. Lines starting with # are left out."
    edited = click.edit(f"\n\n{marker}\n")
    text = "\n".join(line for line in (edited or "").splitlines() if not line.startswith("# ")).strip()
    if not text:
        fail(f"aborted: the {what} is empty")
    return text


@tickets.command("reply")
@click.argument("ref")
@click.option(
    "--body-file", type=click.Path(path_type=Path), help="The answer (- for stdin); default: $EDITOR."
)
@_AS
@json_option()
@click.pass_context
def tickets_reply(
    ctx: click.Context, ref: str, body_file: Path | None, actor: str | None, as_json: bool
) -> None:
    """Answer the customer on REF (from the organisation's address, threaded, first response)."""
    who = _actor(ctx, actor)
    text = _text(body_file, "answer")
    _run(ctx, lambda app: app.staff.reply, ref, text, who)
    report(
        as_json, {"ref": ref.upper(), "answer": "queued"}, f"{ref.upper()}: answer queued for the customer"
    )


@tickets.command("note")
@click.argument("ref")
@click.option(
    "--body-file", type=click.Path(path_type=Path), help="The note (- for stdin); default: $EDITOR."
)
@_AS
@json_option()
@click.pass_context
def tickets_note(
    ctx: click.Context, ref: str, body_file: Path | None, actor: str | None, as_json: bool
) -> None:
    """Add an internal note to REF (stored encrypted, never sent)."""
    who = _actor(ctx, actor)
    text = _text(body_file, "note")
    _run(ctx, lambda app: app.staff.note, ref, text, who)
    report(as_json, {"ref": ref.upper(), "note": "added"}, f"{ref.upper()}: note added")


@tickets.command("assign")
@click.argument("ref")
@click.argument("name")
@_AS
@json_option()
@click.pass_context
def tickets_assign(ctx: click.Context, ref: str, name: str, actor: str | None, as_json: bool) -> None:
    """Assign REF to a staff member (address or the part before the @)."""
    who = _actor(ctx, actor)
    assignee = _run(ctx, lambda app: app.staff.assign, ref, name, who)
    report(as_json, {"ref": ref.upper(), "assignee": assignee}, f"{ref.upper()}: assigned to {assignee}")


@tickets.command("status")
@click.argument("ref")
@click.argument("status", type=click.Choice(STAFF_STATUSES), metavar="STATUS")
@_AS
@json_option()
@click.pass_context
def tickets_status(ctx: click.Context, ref: str, status: str, actor: str | None, as_json: bool) -> None:
    """Set REF's status: open, waiting, resolved or closed."""
    who = _actor(ctx, actor)
    new = _run(ctx, lambda app: app.staff.status, ref, status, who)
    report(as_json, {"ref": ref.upper(), "status": new}, f"{ref.upper()}: {new}")


@tickets.command("close")
@click.argument("ref")
@_AS
@json_option()
@click.pass_context
def tickets_close(ctx: click.Context, ref: str, actor: str | None, as_json: bool) -> None:
    """Close REF (its running terms end: it counts as answered)."""
    who = _actor(ctx, actor)
    _run(ctx, lambda app: app.staff.status, ref, "closed", who)
    report(as_json, {"ref": ref.upper(), "status": "closed"}, f"{ref.upper()}: closed")


@tickets.command("verify")
@click.argument("ref")
@click.option(
    "--method", required=True, help='How the identity was checked, e.g. "phone call, known details".'
)
@_AS
@json_option()
@click.pass_context
def tickets_verify(ctx: click.Context, ref: str, method: str, actor: str | None, as_json: bool) -> None:
    """Record that REF's requester is who they say (the legal clock runs again). Only the method is
    kept, never a copy of a document (R-A7)."""
    who = _actor(ctx, actor)
    _run(ctx, lambda app: app.staff.verify, ref, method, who)
    data = {"ref": ref.upper(), "verified": True, "method": method.strip()[:64]}
    report(as_json, data, f"{ref.upper()}: identity verified ({method.strip()[:64]})")


@tickets.command("fulfil")
@click.argument("ref")
@_AS
@json_option()
@click.pass_context
def tickets_fulfil(ctx: click.Context, ref: str, actor: str | None, as_json: bool) -> None:
    """Carry out a verified GDPR request (restriction, objection; erasure where available) and
    tell the requester."""
    who = _actor(ctx, actor)
    done = _run(ctx, lambda app: app.staff.fulfil, ref, who)
    report(as_json, {"ref": ref.upper(), "done": done}, f"{ref.upper()}: {done}; the requester is told")


@click.group()
def staff() -> None:
    """Staff web accounts (issue 18): enrolment links, roles."""


@staff.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["staff", "admin"]), default="staff", show_default=True)
@json_option("{email, role, link, valid_hours} as JSON.")
@click.pass_context
def staff_add(ctx: click.Context, email: str, role: str, as_json: bool) -> None:
    """Create a web account for EMAIL (on staff.addresses) and print its one-time enrolment link.

    Run again to reset a lost authenticator or password: the old login stops working."""
    from mailbot.services.staff_accounts import AccountRefused

    try:
        with opened_app(ctx) as app:
            token = app.accounts.add(email, role, actor="cli")
            base = app.settings.web.base_url
            hours = int(app.accounts.policy.enrolment_valid.total_seconds() // 3600)
    except AccountRefused as exc:
        fail(str(exc))
        return
    address, link = email.strip().lower(), f"{base}/enrol/{token}"
    if as_json:
        report(True, {"email": address, "role": role, "link": link, "valid_hours": hours}, "")
        return
    click.echo(f"{address} ({role}): enrolment link, valid {hours} hours, usable once:")
    click.echo(link)


@staff.command("list")
@json_option()
@click.pass_context
def staff_list(ctx: click.Context, as_json: bool) -> None:
    """Web accounts with their role and state."""
    with opened_app(ctx) as app:
        accounts = app.accounts.accounts()
    rows = [
        {
            "email": a.email,
            "role": a.role.value,
            "state": "disabled" if a.disabled_at else "enrolled" if a.enrolled else "enrolment pending",
        }
        for a in accounts
    ]
    if as_json:
        report(True, rows, "")
        return
    table(
        ("EMAIL", "ROLE", "STATE"),
        [(r["email"], r["role"], r["state"]) for r in rows],
        "no web accounts (mailbot staff add EMAIL)",
    )


#: ``staff`` is new at the top level; the ticket commands above hang under ``tickets``.
commands: list[click.Command] = [staff]
