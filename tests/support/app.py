"""Build a real mailbot App for tests: settings in a temp dir, a generated master key, own clock."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailbot.adapters.crypto import generate_secret
from mailbot.bootstrap import App, build_app
from mailbot.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def mailbot_env(tmp_path: Path, database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        "MAILBOT_STORAGE__DIR": str(tmp_path / "storage"),
        "MAILBOT_STORAGE__DATABASE_URL": database_url,
        "MAILBOT_MASTER_KEY": generate_secret(),
        "MAILBOT_LISTENER__ENABLED": "false",
        "MAILBOT_RULES__DIR": str(REPO / "mailbot" / "defaults" / "rules"),
        "MAILBOT_TEMPLATES__DIR": str(REPO / "mailbot" / "defaults" / "templates"),
    }
    env.update(extra or {})
    return env


def make_settings(tmp_path: Path, database_url: str, **overrides: str) -> Settings:
    return load_settings(None, mailbot_env(tmp_path, database_url, overrides))


def make_app(
    tmp_path: Path,
    database_url: str,
    clock: Any,
    classifier: Any = None,
    mailer: Any = None,
    **overrides: str,
) -> App:
    settings = make_settings(tmp_path, database_url, **overrides)
    return build_app(settings, clock=clock, classifier=classifier, mailer=mailer)


def run_cli(env: Mapping[str, str], *args: str) -> tuple[int, str]:
    """One ``mailbot`` command in-process with this environment: (exit code, output)."""
    from click.testing import CliRunner

    from mailbot.cli import main

    result = CliRunner().invoke(main, list(args), env=dict(env), catch_exceptions=False)
    return result.exit_code, result.output
