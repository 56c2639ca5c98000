"""What every command needs: the settings (or a one-line error, exit 2) and the wired app."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

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


def require_once(once: bool, command: str, what: str, service: str) -> None:
    """The one-shot commands say what they do instead of click's bare "Missing option"."""
    if not once:
        click.echo(f"mailbot {command} --once does {what}; the service (mailbot run) {service}.", err=True)
        sys.exit(2)
