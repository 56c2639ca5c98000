"""``mailbot keys rotate|retire|status``: the master key's versions (R-D4). Only with a key file:
a key given as MAILBOT_MASTER_KEY is rotated by the operator's secret store, not by mailbot."""

from __future__ import annotations

import sys

import click

from mailbot.cli.common import settings_of
from mailbot.cli.output import json_option, report


def _key_file(ctx: click.Context):  # type: ignore[no-untyped-def]
    settings = settings_of(ctx)
    if settings.master_key:
        click.echo(
            "mailbot: the master key comes from MAILBOT_MASTER_KEY: rotation needs the key file "
            "(storage.key_file); move the key there first",
            err=True,
        )
        sys.exit(2)
    if not settings.storage.key_file.exists():
        click.echo(f"mailbot: no key file at {settings.storage.key_file} (mailbot init creates it)", err=True)
        sys.exit(2)
    return settings


@click.group()
def keys() -> None:
    """The master key: rotate to a new version, retire an old one."""


@keys.command("rotate")
@click.option("--resume", is_flag=True, help="Only finish re-wrapping under the active version.")
@json_option()
@click.pass_context
def keys_rotate(ctx: click.Context, resume: bool, as_json: bool) -> None:
    """Add a new master key version and re-wrap every data key under it. Back up the key file
    afterwards; restart running services so new keys use the new version."""
    from mailbot.adapters.db.engine import make_engine
    from mailbot.adapters.key_rotation import rotate

    settings = _key_file(ctx)
    engine = make_engine(settings.storage.database_url)
    try:
        result = rotate(engine, settings.storage.key_file, new_version=not resume)
    except ValueError as exc:
        click.echo(f"mailbot: {exc}", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    data = {
        "active_version": result.new_version,
        "rewrapped": result.rewrapped,
        "versions": list(result.kept_versions),
    }
    report(
        as_json,
        data,
        f"active version {result.new_version}; {result.rewrapped} data key(s) re-wrapped; "
        f"versions in the key file: {', '.join(map(str, result.kept_versions))}",
    )


@keys.command("retire")
@click.argument("version", type=int)
@json_option()
@click.pass_context
def keys_retire(ctx: click.Context, version: int, as_json: bool) -> None:
    """Remove an old master key version; refused while any data key still needs it."""
    from mailbot.adapters.db.engine import make_engine
    from mailbot.adapters.key_rotation import retire

    settings = _key_file(ctx)
    engine = make_engine(settings.storage.database_url)
    try:
        remaining = retire(engine, settings.storage.key_file, version)
    except ValueError as exc:
        click.echo(f"mailbot: {exc}", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    report(
        as_json,
        {"retired": version, "versions": list(remaining)},
        f"version {version} retired; versions in the key file: {', '.join(map(str, remaining))}",
    )


commands = [keys]
