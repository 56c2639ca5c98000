"""What every command needs: the settings (or a one-line error, exit 2) and the wired app."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailbot.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from mailbot.bootstrap import App


def load(path: Path | None) -> Settings:
    try:
        return load_settings(path, os.environ)
    except ConfigError as exc:
        for line in str(exc).splitlines():  # one line per problem, all of them at once
            click.echo(f"mailbot: configuration error: {line}", err=True)
        sys.exit(2)


def settings_of(ctx: click.Context) -> Settings:
    """The settings, loaded once per command line (a command run on its own gets a fresh cache)."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    cached = root.obj.get("settings")
    if cached is None:
        cached = load(root.obj.get("config_path"))
        root.obj["settings"] = cached
    return cached


def build(ctx: click.Context, settings: Settings | None = None) -> App:
    from mailbot.adapters.rules_loader import RulesError
    from mailbot.adapters.text_model import ModelFileError
    from mailbot.bootstrap import build_app

    try:
        return build_app(settings or settings_of(ctx))
    except RulesError as exc:
        click.echo(f"mailbot: rules error: {exc}", err=True)
        sys.exit(2)
    except ModelFileError as exc:
        click.echo(f"mailbot: model error: {exc}", err=True)
        sys.exit(2)
    except ValueError as exc:  # key file problems and the like: say so plainly
        click.echo(f"mailbot: {exc}", err=True)
        sys.exit(2)


@contextmanager
def opened_app(ctx: click.Context) -> Iterator[App]:
    """The wired app for one command, closed however the command ends."""
    app = build(ctx)
    try:
        yield app
    finally:
        app.close()


class MailbotGroup(click.Group):
    """The root command: a failure nobody caught becomes one line naming what failed, in words
    (issue 17: "mailbot: IMAP connect at 127.0.0.1:47193 failed (connection refused)"), and exit
    status 1 — never a traceback or a Python exception class name. ``-v`` keeps the traceback."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Bad usage (an unknown option value, a missing argument) is one line and exit status 2,
        like every other bad input: "mailbot tickets status: Invalid value for 'STATUS': …"."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            path = exc.ctx.command_path.partition(" ")[2] if exc.ctx is not None else ""
            where = f"mailbot {path}".strip()
            click.echo(f"{where}: {exc.format_message()} (see {where} --help)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # a command's refusal: "mailbot: no ticket X", not "Error: …"
            click.echo(f"mailbot: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("mailbot: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if (ctx.obj or {}).get("verbose"):
                raise
            click.echo(f"mailbot: {describe_failure(exc)}", err=True)
            sys.exit(1)


def describe_failure(exc: BaseException) -> str:
    """What failed, for a person: our own errors already say it; the database, sockets and files
    are named with a plain reason; the rest gets its first line and a hint at ``-v``."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from mailbot.errors import plain_reason

    if isinstance(exc, DBAPIError):
        cause = exc.orig if exc.orig is not None else exc
        return f"database: {_first_line(plain_reason(cause))}"
    if isinstance(exc, SQLAlchemyError):
        return f"database: {_first_line(str(exc))}"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"{plain_reason(exc)}{where}"
    text = _first_line(plain_reason(exc))
    own = type(exc).__module__.startswith("mailbot.")
    return text if own else f"{text} (run with -v for details)"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else "failed"


def require_once(once: bool, command: str, what: str, service: str) -> None:
    """The one-shot commands say what they do instead of click's bare "Missing option"."""
    if not once:
        click.echo(f"mailbot {command} --once does {what}; the service (mailbot run) {service}.", err=True)
        sys.exit(2)
