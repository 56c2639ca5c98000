"""``mailbot templates``: check and preview the mail templates the company edits.

Registered by the lead as a subcommand; ``command`` is the click group.
"""

from __future__ import annotations

from pathlib import Path

import click

from mailbot.adapters.templates import PURPOSES, TemplateRenderer, TemplateRenderError, sample_context
from mailbot.cli.common import settings_of
from mailbot.cli.output import json_option, to_json

_DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Template directory (default: templates.dir of the configuration, else the installed letters).",
)


@click.group(name="templates")
def command() -> None:
    """Check or preview the mail templates."""


@command.command("check")
@_DIR_OPTION
@json_option("{dir, purposes, errors} as JSON.")
@click.pass_context
def check(ctx: click.Context, directory: Path | None, as_json: bool) -> None:
    """Render every template with sample data; exit 1 and list the errors if any."""
    directory = directory or settings_of(ctx).templates.dir
    if not directory.is_dir():
        raise click.ClickException(f"template directory not found: {directory}")
    from mailbot.adapters.access_package import check_templates as check_export_templates

    errors = TemplateRenderer(directory).check() + check_export_templates(directory)
    if as_json:
        click.echo(to_json({"dir": str(directory), "purposes": len(PURPOSES), "errors": errors}))
        raise SystemExit(1 if errors else 0)
    if errors:
        for error in errors:
            click.echo(f"error: {error}", err=True)
        click.echo(f"{len(errors)} template error(s)", err=True)
        raise SystemExit(1)
    click.echo(f"all templates render ({len(PURPOSES)} purposes and the access export, nl and en)")


@command.command("preview")
@click.argument("purpose")
@click.argument("language")
@_DIR_OPTION
@click.option("--html", "show_html", is_flag=True, help="Also print the HTML part.")
@click.pass_context
def preview(ctx: click.Context, purpose: str, language: str, directory: Path | None, show_html: bool) -> None:
    """Print PURPOSE (e.g. ack_complaint) in LANGUAGE (nl, en, or another: Dutch + English)."""
    directory = directory or settings_of(ctx).templates.dir
    if purpose not in PURPOSES:
        import difflib

        close = difflib.get_close_matches(purpose, PURPOSES, n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        click.echo(f"mailbot: unknown purpose {purpose!r}; {hint}purposes: {', '.join(PURPOSES)}", err=True)
        raise SystemExit(2)
    try:
        mail = TemplateRenderer(directory).render(purpose, language, sample_context(purpose))
    except TemplateRenderError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Subject: {mail.subject}")
    click.echo(f"Content-Language: {mail.language}")
    click.echo("")
    click.echo(mail.text, nl=False)
    if show_html and mail.html is not None:
        click.echo("\n---- HTML ----")
        click.echo(mail.html)
