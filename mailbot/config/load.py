"""Loading: the TOML file and the environment through pydantic-settings, then the derived defaults
and the checks that span several keys — every problem reported at once, one line each.

Why it looks like this:

- Nothing is read at import time: the composition root calls :func:`load_settings` once with the
  environment it wants, so tests pass a plain dict instead of patching ``os.environ``.
- Every setting has one spelling in the file (``[imap] host``) and one in the environment
  (``MAILBOT_IMAP__HOST``); the environment wins, so containers can override a baked-in file.
- Mistakes surface at start-up as one line per problem naming the key (``imap.port: ...``), never
  later as a stack trace from an adapter; the CLI prints them and exits with status 2. An admin
  fixing a file sees all of its problems in one run, not one per restart.
- Secrets are ``SecretStr``: logging a Settings object, or a traceback showing one, leaks nothing.
- R-C20: mail to and from the mail server is encrypted; ``plain`` is refused for any host that is
  not loopback, because a typo in production must not silently send credentials in clear text.
"""

from __future__ import annotations

import difflib
import ipaddress
import tomllib
from collections.abc import Iterable, Mapping
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from mailbot.config.sections import (
    SECTIONS,
    AfterFetch,
    DeadlineSettings,
    ImapSettings,
    Security,
    Settings,
    SmtpSettings,
)
from mailbot.config.values import PROBLEM, FromEnv, shown, type_name

ENV_PREFIX = "MAILBOT_"
CONFIG_ENV = "MAILBOT_CONFIG"
MASTER_KEY_ENV = "MAILBOT_MASTER_KEY"

_IMAP_PORTS = {Security.TLS: 993, Security.STARTTLS: 143, Security.PLAIN: 143}
_SMTP_PORTS = {Security.TLS: 465, Security.STARTTLS: 587, Security.PLAIN: 25}


class ConfigError(Exception):
    """Settings that cannot be used; ``str()`` is one line per problem an admin can act on.

    ``key`` and ``problem`` are the first problem's; ``problems`` lists all of them."""

    def __init__(self, key: str, problem: str, *, more: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(key, problem)
        self.key = key
        self.problem = problem
        self.problems: tuple[tuple[str, str], ...] = ((key, problem), *more)

    def __str__(self) -> str:
        return "\n".join(f"{key}: {problem}" for key, problem in self.problems)


def known_keys() -> list[str]:
    """Every setting as ``section.key``, in file order (for docs checks and a ``config show``)."""
    return [f"{section}.{key}" for section, model in SECTIONS.items() for key in model.model_fields]


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``[section] key``: ``MAILBOT_SECTION__KEY``."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


class _TomlFile(TomlConfigSettingsSource):
    """pydantic-settings' TOML source, with a missing, unreadable or non-UTF-8 file as one line."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        name = str(file_path)
        try:
            text = Path(file_path).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                name, f"cannot read the configuration file: {error.strerror or error}"
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(name, "the configuration file is not UTF-8 text") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            # The message already says "(at line N, column M)".
            raise ConfigError(name, f"invalid TOML: {error}") from None

    @classmethod
    def _existing_files(cls, paths: Any) -> list[Path | Traversable]:
        # A file the admin named must exist: reading it is where "cannot read" is said.
        return [Path(paths)] if paths is not None else []


class _Environment(PydanticBaseSettingsSource):
    """``MAILBOT_SECTION__KEY`` variables from the mapping given (not ``os.environ``).

    Each value is a :class:`FromEnv`, so the checks parse it as text and name the variable. Other
    ``MAILBOT_*`` names (CONFIG, MASTER_KEY) are not settings."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.values: dict[str, dict[str, FromEnv]] = {}
        for name, value in sorted(env.items()):
            if name.startswith(ENV_PREFIX) and "__" in name:
                section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
                self.values.setdefault(section, {})[key] = FromEnv(value, name)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, True

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def load_settings(path: Path | None, env: Mapping[str, str], *, cwd: Path | None = None) -> Settings:
    """Build the Settings from defaults, the TOML file (if any) and ``MAILBOT_*`` variables.

    ``path`` None falls back to ``MAILBOT_CONFIG`` and then to the embedded defaults alone.
    ``env`` is passed in (usually ``os.environ``) so that nothing is read behind the caller's
    back. Relative paths resolve against ``cwd`` (default: the process's working directory).
    Raises :class:`ConfigError` listing every problem found.
    """
    base = (cwd or Path.cwd()).resolve()
    if path is None and env.get(CONFIG_ENV, "").strip():
        path = Path(env[CONFIG_ENV].strip())
    config_file = _absolute(path.expanduser(), base) if path is not None else None
    sources: tuple[PydanticBaseSettingsSource, ...] = (_Environment(Settings, env),)
    if config_file is not None:
        sources += (_TomlFile(Settings, toml_file=config_file),)
    try:
        # The dataclass-style signature mypy sees lacks BaseSettings' documented ``_build_sources``.
        given = Settings(_build_sources=(sources, {}))  # type: ignore[call-arg]
    except ValidationError as error:
        problems = [_problem(detail) for detail in error.errors(include_url=False)]
        raise ConfigError(*problems[0], more=problems[1:]) from None
    settings, problems = _derived(given, base)
    if problems:
        raise ConfigError(*problems[0], more=problems[1:])
    settings._master_key = env.get(MASTER_KEY_ENV) or None
    settings._config_file = config_file
    return settings


def _problem(detail: Any) -> tuple[str, str]:
    """One pydantic error as ``(key, problem)`` in the words of the file (or the variable)."""
    loc = tuple(str(part) for part in detail["loc"])
    value = detail.get("input")
    suffix = f" (from {value.env_name})" if isinstance(value, FromEnv) else ""
    section = loc[0]
    if detail["type"] == "extra_forbidden" and len(loc) == 1:
        if isinstance(value, dict) and value and all(isinstance(v, FromEnv) for v in value.values()):
            first = next(iter(value.values()))
            return first.env_name, f"unknown section {section!r}{_suggest(section, SECTIONS)}"
        if not isinstance(value, dict):
            return section, "settings belong in a section such as [organisation] or [imap]"
        return section, f"unknown section{_suggest(section, SECTIONS)}"
    if detail["type"] == "extra_forbidden":
        return ".".join(loc[:2]), f"unknown key{_suggest(loc[1], SECTIONS[section].model_fields)}{suffix}"
    if len(loc) == 1:
        return section, f"must be a section [{section}] (got {type_name(value)})"
    key = ".".join(loc[:2])
    if detail["type"] == PROBLEM:
        return key, f"{detail['ctx']['problem']}{suffix}"
    return key, f"{detail['msg']}{suffix}"


def _suggest(word: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f'; did you mean "{close[0]}"?' if close else f" (known: {', '.join(known)})"


def _absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else base / path


def _derived(given: Settings, base: Path) -> tuple[Settings, list[tuple[str, str]]]:
    """Absolute paths, the defaults that follow other keys, and the checks spanning several keys."""
    problems: list[tuple[str, str]] = []
    org = given.organisation

    storage = given.storage
    storage_dir = _absolute(storage.dir, base)
    key_file = (
        _absolute(storage.key_file, base)
        if _given(storage, "key_file")
        else storage_dir / "keys" / "master.key"
    )
    keys = key_file.parent
    storage = storage.model_copy(
        update={
            "dir": storage_dir,
            "key_file": key_file,
            "database_url": storage.database_url
            if _given(storage, "database_url")
            else f"sqlite:///{storage_dir / 'mailbot.db'}",
        }
    )

    def path(section: Any, key: str, default: Path) -> Path:
        return _absolute(getattr(section, key), base) if _given(section, key) else default

    staff = given.staff
    if org.mailbox.lower() in (a.lower() for a in staff.addresses):
        problems.append(
            (
                "staff.addresses",
                f"must not contain the mailbox mailbot reads ({org.mailbox}): staff notices "
                "would come back as new mail; give head office's own addresses",
            )
        )
    if not _given(staff, "escalation_address"):
        staff = staff.model_copy(update={"escalation_address": staff.addresses[0]})

    listener = given.listener
    if listener.enabled and not _is_loopback(listener.host) and not listener.private_network:
        problems.append(
            (
                "listener.host",
                f"{listener.host!r} is beyond loopback, and the listener accepts mail without "
                "authentication; bind it to 127.0.0.1, or set listener.private_network = true if only "
                "your own border MTA on a private network can reach it",
            )
        )
    identity = given.identity
    if identity.trust_dmarc and not identity.authserv_id:
        problems.append(
            (
                "identity.authserv_id",
                "required when identity.trust_dmarc is on: the authserv-id your border mail server "
                "writes in Authentication-Results (other servers' headers can be forged)",
            )
        )

    backup = given.backup
    backups = path(backup, "dir", storage_dir / "backups")
    backup = backup.model_copy(
        update={
            "dir": backups,
            "key_file": path(backup, "key_file", keys / "backup.key"),
            "restic_repository": backup.restic_repository
            if _given(backup, "restic_repository")
            else str(backups / "restic"),
            "restic_password_file": path(backup, "restic_password_file", keys / "restic.password"),
        }
    )
    model = given.model.model_copy(
        update={
            "file": path(given.model, "file", storage_dir / "text-model.npz"),
            "corpus": tuple(_absolute(p, base) for p in given.model.corpus),
        }
    )
    privacy = given.privacy.model_copy(
        update={"erasure_ledger": path(given.privacy, "erasure_ledger", keys / "erasure-ledger.jsonl")}
    )
    web = given.web
    base_url = (web.base_url if _given(web, "base_url") else f"http://{web.host}:{web.port}").rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        problems.append(("web.base_url", f"{base_url!r} is not an http(s) address"))
    web = web.model_copy(update={"base_url": base_url})
    settings = given.model_copy(
        update={
            "web": web,
            "storage": storage,
            "imap": _imap(given.imap, base, problems),
            "smtp": _smtp(given.smtp, base, org.mailbox, problems),
            "staff": staff,
            "deadlines": _deadlines(given.deadlines, problems),
            "rules": given.rules.model_copy(update={"dir": _absolute(given.rules.dir, base)}),
            "templates": given.templates.model_copy(update={"dir": _absolute(given.templates.dir, base)}),
            "backup": backup,
            "model": model,
            "privacy": privacy,
        }
    )
    return settings, problems


def _given(section: Any, key: str) -> bool:
    """Whether the file or the environment set ``key`` (else its default may follow other keys)."""
    return key in section.model_fields_set


def _imap(imap: ImapSettings, base: Path, problems: list[tuple[str, str]]) -> ImapSettings:
    imap = imap.model_copy(
        update={
            "port": imap.port if _given(imap, "port") else _IMAP_PORTS[imap.security],
            **_password("imap", imap.password, imap.password_file, base, problems),
        }
    )
    if imap.enabled:
        # Refuse at start-up what would otherwise fail at the first poll, hours later, at night.
        _require_encryption("imap", imap.host, imap.security, problems)
        if imap.username is None:
            problems.append(("imap.username", "required when imap.host is set"))
        if imap.password is None and not _given(imap, "password_file"):
            problems.append(("imap.password", "required when imap.host is set (or set password_file)"))
    if imap.after is AfterFetch.MOVE and imap.processed_folder == imap.folder:
        problems.append(("imap.processed_folder", 'must differ from imap.folder when after = "move"'))
    return imap


def _smtp(smtp: SmtpSettings, base: Path, mailbox: str, problems: list[tuple[str, str]]) -> SmtpSettings:
    smtp = smtp.model_copy(
        update={
            "port": smtp.port if _given(smtp, "port") else _SMTP_PORTS[smtp.security],
            "from_address": smtp.from_address if _given(smtp, "from_address") else mailbox,
            **_password("smtp", smtp.password, smtp.password_file, base, problems),
        }
    )
    if smtp.enabled:
        _require_encryption("smtp", smtp.host, smtp.security, problems)
    # A local relay may accept mail without login, so credentials are optional, but only in pairs.
    has_password = smtp.password is not None or _given(smtp, "password_file")
    if smtp.username is not None and not has_password:
        problems.append(("smtp.password", "required when smtp.username is set (or set password_file)"))
    if has_password and smtp.username is None:
        problems.append(("smtp.username", "required when a password is set"))
    return smtp


def _deadlines(deadlines: DeadlineSettings, problems: list[tuple[str, str]]) -> DeadlineSettings:
    if deadlines.business_day_end <= deadlines.business_day_start:
        problems.append(
            (
                "deadlines.business_day_end",
                f"must be later than business_day_start ({deadlines.business_day_start:%H:%M})",
            )
        )
    for key in (
        "reminder_hours_before",
        "escalation_hours_after",
        "legal_reminder_days_before",
        "legal_escalation_days_after",
    ):
        values = getattr(deadlines, key)
        if len(set(values)) != len(values):
            problems.append((f"deadlines.{key}", "must not repeat a value (each step is sent once)"))
    return deadlines


def _password(
    section: str,
    password: SecretStr | None,
    password_file: Path | None,
    base: Path,
    problems: list[tuple[str, str]],
) -> dict[str, Any]:
    """The secret from ``password`` or ``password_file`` (never both: which one wins would be a guess)."""
    if password_file is None:
        return {}
    key = f"{section}.password_file"
    if password is not None:
        problems.append((key, "set either password or password_file, not both"))
        return {}
    secret_file = _absolute(password_file, base)
    try:
        text = secret_file.read_text(encoding="utf-8")
    except OSError as error:
        problems.append((key, f"cannot read {secret_file}: {error.strerror or error}"))
        return {}
    except UnicodeDecodeError:
        problems.append((key, f"{secret_file} is not UTF-8 text"))
        return {}
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        problems.append((key, f"{secret_file} is empty"))
        return {}
    return {"password": SecretStr(secret), "password_file": secret_file}


def _require_encryption(
    section: str, host: str | None, security: Security, problems: list[tuple[str, str]]
) -> None:
    """R-C20: an unencrypted connection is only acceptable when it never leaves the machine."""
    if security is Security.PLAIN and host is not None and not _is_loopback(host):
        problems.append(
            (
                f"{section}.security",
                f'"plain" is only allowed to a loopback host (127.0.0.0/8, ::1, localhost), '
                f"not {shown(host)}; use tls or starttls (R-C20)",
            )
        )


def _is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
