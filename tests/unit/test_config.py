"""Settings: defaults, TOML, environment overrides, coercion, and one-line errors that name the key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from datetime import date, time
from pathlib import Path

import pydantic
import pytest

import mailbot.config as config_module
from mailbot import defaults
from mailbot.config import (
    AfterFetch,
    ConfigError,
    HoursMode,
    Security,
    Settings,
    env_name,
    known_keys,
    load_settings,
)

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "configuration.md"


def load(tmp_path: Path, toml: str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Load with ``toml`` written to a file in ``tmp_path`` (the working directory for relative paths)."""
    path = None
    if toml is not None:
        path = tmp_path / "mailbot.toml"
        path.write_text(toml, encoding="utf-8")
    return load_settings(path, env or {}, cwd=tmp_path)


def secret(value: pydantic.SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def error_of(tmp_path: Path, toml: str | None = None, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, toml, env)
    error = caught.value
    # One line per problem, the first of them also as key/problem.
    assert str(error).splitlines() == [f"{key}: {problem}" for key, problem in error.problems]
    assert error.problems[0] == (error.key, error.problem)
    assert all("\n" not in problem for _, problem in error.problems)
    return error


def secret_file(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


# --- defaults ------------------------------------------------------------------------------------


def test_defaults_run_without_file_or_mail_server(tmp_path: Path) -> None:
    settings = load(tmp_path)

    assert settings.config_file is None
    assert settings.organisation.name == "Ordevos"
    assert settings.organisation.mailbox == "info@ordevos.nl"
    assert settings.organisation.domain == "ordevos.nl"
    assert settings.organisation.ticket_prefix == "ORD"
    assert str(settings.organisation.zone) == "Europe/Amsterdam"

    storage = settings.storage
    assert storage.dir == tmp_path.resolve() / "storage"
    assert storage.database_url == f"sqlite:///{tmp_path.resolve()}/storage/mailbot.db"
    assert storage.key_file == storage.dir / "keys" / "master.key"
    assert storage.inbox_dir == storage.dir / "inbox"
    assert storage.sent_dir == storage.dir / "sent"

    assert not settings.imap.enabled and settings.imap.host is None
    assert (settings.imap.port, settings.imap.security) == (993, Security.TLS)
    assert (settings.imap.folder, settings.imap.processed_folder) == ("INBOX", "Processed")
    assert settings.imap.after is AfterFetch.MOVE
    assert (settings.imap.poll_seconds, settings.imap.idle) == (60, True)
    assert (settings.imap.batch_size, settings.imap.timeout_seconds) == (200, 60)

    assert not settings.smtp.enabled
    assert (settings.smtp.port, settings.smtp.security) == (465, Security.TLS)
    assert (settings.smtp.timeout_seconds, settings.smtp.retry_horizon_hours) == (30, 48)
    assert settings.smtp.from_address == settings.organisation.mailbox

    assert (settings.listener.enabled, settings.listener.host, settings.listener.port) == (
        True,
        "127.0.0.1",
        8025,
    )
    assert settings.staff.addresses == ("hoofdkantoor@ordevos.nl",)  # never the mailbox we read
    assert settings.staff.escalation_address == "hoofdkantoor@ordevos.nl"
    assert settings.staff.digest_time == time(8, 0)
    assert (settings.processing.max_attempts, settings.processing.auto_reply_cap_per_day) == (3, 3)

    deadlines = settings.deadlines
    assert deadlines.first_response_hours == 48
    assert deadlines.hours_mode is HoursMode.CALENDAR  # R-B1: clock hours, weekends included
    assert (deadlines.business_day_start, deadlines.business_day_end) == (time(9), time(17))
    assert deadlines.internal_target_working_days == 20  # R-A4
    assert deadlines.complaint_resolution_weeks == 4  # R-B2
    assert deadlines.extra_holidays == ()
    assert deadlines.reminder_hours_before == (24, 6)  # issue 5: 24 h and 6 h before
    assert deadlines.escalation_hours_after == (0, 24)  # at the breach and a day later
    # The rules and letters installed with the package, whatever the working directory.
    assert settings.rules.dir == defaults.RULES and (defaults.RULES / "README.md").is_file()
    assert settings.templates.dir == defaults.TEMPLATES and (defaults.TEMPLATES / "README.md").is_file()
    assert settings.master_key is None


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.imap.host = "imap.example.nl"  # type: ignore[misc]
    with pytest.raises((AttributeError, pydantic.ValidationError)):
        settings.master_key = "x"  # type: ignore[misc]


def test_nothing_is_read_at_import(tmp_path: Path) -> None:
    """Importing must not touch files or the environment (a fresh interpreter, so no module is reloaded)."""
    env = {
        **os.environ,
        "MAILBOT_CONFIG": str(tmp_path / "missing.toml"),
        "MAILBOT_IMAP__PORT": "not a number",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import mailbot.config"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    with pytest.raises(ConfigError):  # while loading does read both
        load_settings(None, {k: v for k, v in env.items() if k.startswith("MAILBOT_")}, cwd=tmp_path)


def test_working_directory_defaults_to_the_process_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, {}).storage.dir == tmp_path.resolve() / "storage"


# --- file, MAILBOT_CONFIG, environment ------------------------------------------------------------

FULL = """
[organisation]
name = "Acme Coaching"
mailbox = "Hallo@Acme.example"
domain = "Acme.Example"
ticket_prefix = "ACM"
timezone = "Europe/Brussels"

[storage]
dir = "data"
database_url = "postgresql+psycopg://mailbot:hunter2@db.example/mailbot"
key_file = "/etc/mailbot/master.key"

[imap]
host = "imap.example.nl"
security = "starttls"
username = "hallo@acme.example"
password = "imap-secret"
folder = "Inbox"
processed_folder = "Done"
after = "flag"
poll_seconds = 30
idle = false
batch_size = 50
timeout_seconds = 20

[smtp]
host = "smtp.example.nl"
security = "starttls"
username = "hallo@acme.example"
password = "smtp-secret"
timeout_seconds = 10
retry_horizon_hours = 24
from_address = "noreply@acme.example"

[listener]
enabled = false
host = "0.0.0.0"
port = 2525

[staff]
addresses = ["anna@acme.example", "bram@acme.example"]
digest_time = 07:30:00

[processing]
max_attempts = 5
auto_reply_cap_per_day = 0

[deadlines]
first_response_hours = 24
hours_mode = "business"
business_day_start = "08:30"
business_day_end = "17:30"
internal_target_working_days = 15
complaint_resolution_weeks = 6
extra_holidays = ["2026-05-15", 2026-12-31]
reminder_hours_before = [12, 2]

[rules]
dir = "/srv/rules"

[templates]
dir = "tpl"
"""


def test_toml_file_sets_every_section(tmp_path: Path) -> None:
    settings = load(tmp_path, FULL)
    base = tmp_path.resolve()

    assert settings.config_file == tmp_path / "mailbot.toml"
    assert settings.organisation.name == "Acme Coaching"
    assert settings.organisation.mailbox == "Hallo@acme.example"  # domain lower-cased, local part kept
    assert settings.organisation.domain == "acme.example"
    assert settings.organisation.timezone == "Europe/Brussels"
    assert settings.storage.dir == base / "data"
    assert settings.storage.database_url.startswith("postgresql+psycopg://mailbot:")
    assert settings.storage.key_file == Path("/etc/mailbot/master.key")
    assert settings.imap.enabled and settings.imap.host == "imap.example.nl"
    assert (settings.imap.security, settings.imap.port) == (Security.STARTTLS, 143)
    assert secret(settings.imap.password) == "imap-secret"
    assert (settings.imap.folder, settings.imap.processed_folder, settings.imap.after) == (
        "Inbox",
        "Done",
        AfterFetch.FLAG,
    )
    assert (settings.imap.poll_seconds, settings.imap.idle, settings.imap.batch_size) == (30, False, 50)
    assert settings.imap.timeout_seconds == 20
    assert (settings.smtp.security, settings.smtp.port) == (Security.STARTTLS, 587)
    assert settings.smtp.from_address == "noreply@acme.example"
    assert (settings.smtp.timeout_seconds, settings.smtp.retry_horizon_hours) == (10, 24)
    assert settings.listener == config_module.ListenerSettings(enabled=False, host="0.0.0.0", port=2525)
    assert settings.staff.addresses == ("anna@acme.example", "bram@acme.example")
    assert settings.staff.escalation_address == "anna@acme.example"  # defaults to the first
    assert settings.staff.digest_time == time(7, 30)
    assert settings.processing == config_module.ProcessingSettings(max_attempts=5, auto_reply_cap_per_day=0)
    deadlines = settings.deadlines
    assert deadlines.hours_mode is HoursMode.BUSINESS
    assert (deadlines.business_day_start, deadlines.business_day_end) == (time(8, 30), time(17, 30))
    assert (deadlines.first_response_hours, deadlines.internal_target_working_days) == (24, 15)
    assert deadlines.complaint_resolution_weeks == 6
    assert deadlines.extra_holidays == (date(2026, 5, 15), date(2026, 12, 31))  # R-A3: the calendar is data
    assert deadlines.reminder_hours_before == (12, 2)
    assert settings.rules.dir == Path("/srv/rules")
    assert settings.templates.dir == base / "tpl"


def test_mailbot_config_names_the_file_when_no_path_is_given(tmp_path: Path) -> None:
    file = tmp_path / "elsewhere.toml"
    file.write_text('[organisation]\nname = "From env file"\n', encoding="utf-8")
    other = tmp_path / "explicit.toml"
    other.write_text('[organisation]\nname = "Explicit"\n', encoding="utf-8")
    env = {"MAILBOT_CONFIG": "elsewhere.toml"}

    assert load_settings(None, env, cwd=tmp_path).organisation.name == "From env file"
    assert load_settings(None, env, cwd=tmp_path).config_file == file
    assert load_settings(other, env, cwd=tmp_path).organisation.name == "Explicit"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    env = {
        "MAILBOT_IMAP__HOST": "imap.other.example",
        "MAILBOT_IMAP__PORT": "1993",
        "MAILBOT_IMAP__IDLE": "yes",
        "MAILBOT_STAFF__ADDRESSES": " c@acme.example , d@acme.example ",
        "MAILBOT_ORGANISATION__NAME": "Env Name",
        "MAILBOT_DEADLINES__EXTRA_HOLIDAYS": "2027-01-02,2027-01-03",
        "MAILBOT_STAFF__DIGEST_TIME": "7:05",
    }
    settings = load(tmp_path, FULL, env)

    assert settings.imap.host == "imap.other.example"
    assert settings.imap.port == 1993
    assert settings.imap.idle is True
    assert settings.staff.addresses == ("c@acme.example", "d@acme.example")
    assert settings.staff.escalation_address == "c@acme.example"
    assert settings.organisation.name == "Env Name"
    assert settings.deadlines.extra_holidays == (date(2027, 1, 2), date(2027, 1, 3))
    assert settings.staff.digest_time == time(7, 5)
    # untouched keys still come from the file
    assert settings.imap.username == "hallo@acme.example"


def test_empty_environment_value_unsets_an_optional_key(tmp_path: Path) -> None:
    settings = load(
        tmp_path, FULL, {"MAILBOT_SMTP__HOST": "", "MAILBOT_DEADLINES__REMINDER_HOURS_BEFORE": ""}
    )
    assert not settings.smtp.enabled
    assert settings.deadlines.reminder_hours_before == ()


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("No", False),
    ],
)
def test_environment_booleans(tmp_path: Path, word: str, expected: bool) -> None:
    assert load(tmp_path, env={"MAILBOT_LISTENER__ENABLED": word}).listener.enabled is expected


def test_environment_integers_and_int_lists(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        env={
            "MAILBOT_PROCESSING__MAX_ATTEMPTS": " 7 ",
            "MAILBOT_DEADLINES__FIRST_RESPONSE_HOURS": "72",
            "MAILBOT_DEADLINES__ESCALATION_HOURS_AFTER": "0,24,48",
        },
    )
    assert settings.processing.max_attempts == 7
    assert settings.deadlines.escalation_hours_after == (0, 24, 48)


@pytest.mark.parametrize(
    ("security", "port"), [("tls", 465), ("starttls", 587), ("plain", 25), ("STARTTLS", 587)]
)
def test_smtp_port_follows_security_unless_set(tmp_path: Path, security: str, port: int) -> None:
    env = {"MAILBOT_SMTP__HOST": "localhost", "MAILBOT_SMTP__SECURITY": security}
    assert load(tmp_path, env=env).smtp.port == port
    assert load(tmp_path, env={**env, "MAILBOT_SMTP__PORT": "2525"}).smtp.port == 2525


def test_explicit_escalation_address_and_from_address_win(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        env={
            "MAILBOT_STAFF__ESCALATION_ADDRESS": "boss@ordevos.nl",
            "MAILBOT_SMTP__FROM_ADDRESS": "desk@ordevos.nl",
        },
    )
    assert settings.staff.escalation_address == "boss@ordevos.nl"
    assert settings.smtp.from_address == "desk@ordevos.nl"


def test_other_mailbot_variables_are_not_settings(tmp_path: Path) -> None:
    settings = load(tmp_path, env={"MAILBOT_REQUIRE_SERVICES": "1", "MAILBOT_MASTER_KEY": "kek"})
    assert settings.master_key == "kek"


# --- secrets ---------------------------------------------------------------------------------------


def test_password_file_is_read_and_its_trailing_newline_dropped(tmp_path: Path) -> None:
    secret_file(tmp_path, "imap.pw", "  pass word \n")
    secret_file(tmp_path, "smtp.pw", "smtp-pass\r\n")
    settings = load(
        tmp_path,
        env={
            "MAILBOT_IMAP__HOST": "imap.example.nl",
            "MAILBOT_IMAP__USERNAME": "info@ordevos.nl",
            "MAILBOT_IMAP__PASSWORD_FILE": "imap.pw",
            "MAILBOT_SMTP__USERNAME": "info@ordevos.nl",
            "MAILBOT_SMTP__PASSWORD_FILE": str(tmp_path / "smtp.pw"),
        },
    )
    assert secret(settings.imap.password) == "  pass word "
    assert settings.imap.password_file == tmp_path.resolve() / "imap.pw"
    assert secret(settings.smtp.password) == "smtp-pass"


def test_secrets_never_appear_in_repr_or_str(tmp_path: Path) -> None:
    secret_file(tmp_path, "smtp.pw", "file-borne-secret\n")
    settings = load(
        tmp_path,
        FULL.replace('password = "smtp-secret"', 'password_file = "smtp.pw"'),
        env={"MAILBOT_MASTER_KEY": "the-master-key"},
    )
    assert secret(settings.imap.password) == "imap-secret"
    assert secret(settings.smtp.password) == "file-borne-secret"
    assert settings.master_key == "the-master-key"
    for text in (repr(settings), str(settings), repr(settings.imap), repr(settings.storage)):
        for hidden in ("imap-secret", "file-borne-secret", "the-master-key", "hunter2"):
            assert hidden not in text
    # what is not secret stays visible, so a dump is still useful
    assert "db.example/mailbot" in repr(settings)
    assert "imap.example.nl" in repr(settings)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    """An admin fixing a file sees all of its mistakes in one run, in file order, one line each."""
    error = error_of(
        tmp_path,
        '[imap]\nport = "993"\nidle = "yes"\n[staff]\naddresses = []\n[listener]\nhost = "0.0.0.0"\n',
        env={"MAILBOT_PROCESSING__MAX_ATTEMPTS": "zero"},
    )
    keys = [key for key, _ in error.problems]
    assert keys == ["imap.port", "imap.idle", "staff.addresses", "processing.max_attempts"]
    assert "(from MAILBOT_PROCESSING__MAX_ATTEMPTS)" in error.problems[-1][1]
    # Checks spanning keys run once every key is readable, and are all reported too.
    spanning = error_of(
        tmp_path,
        '[imap]\nhost = "imap.example.nl"\n[listener]\nhost = "0.0.0.0"\n'
        '[deadlines]\nbusiness_day_start = "17:00"\nbusiness_day_end = "09:00"\n',
    )
    assert [key for key, _ in spanning.problems] == [
        "listener.host",
        "imap.username",
        "imap.password",
        "deadlines.business_day_end",
    ]


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    error = error_of(tmp_path, "[smtp]\npassword = 123456789\n")
    assert error.key == "smtp.password"
    assert "123456789" not in str(error)


# --- errors name the key -----------------------------------------------------------------------------

REMOTE_IMAP = '[imap]\nhost = "imap.example.nl"\nusername = "u"\npassword = "p"\n'


@pytest.mark.parametrize(
    ("toml", "env", "key", "fragment"),
    [
        pytest.param('[imapp]\nhost = "x"\n', None, "imapp", 'did you mean "imap"', id="unknown-section"),
        pytest.param('[imap]\nhots = "x"\n', None, "imap.hots", 'did you mean "host"', id="unknown-key"),
        pytest.param('name = "x"\n', None, "name", "section", id="top-level-key"),
        pytest.param("imap = 5\n", None, "imap", "must be a section", id="section-not-table"),
        pytest.param(
            None, {"MAILBOT_IMAP__HOTS": "x"}, "imap.hots", "MAILBOT_IMAP__HOTS", id="env-unknown-key"
        ),
        pytest.param(
            None, {"MAILBOT_IMPA__HOST": "x"}, "MAILBOT_IMPA__HOST", "unknown section", id="env-section"
        ),
        pytest.param('[imap]\nport = "993"\n', None, "imap.port", "must be an integer", id="quoted-int"),
        pytest.param("[imap]\nport = 99.3\n", None, "imap.port", "must be an integer", id="float"),
        pytest.param("[imap]\nport = true\n", None, "imap.port", "must be an integer", id="bool-as-int"),
        pytest.param(None, {"MAILBOT_IMAP__PORT": "nine"}, "imap.port", "MAILBOT_IMAP__PORT", id="env-int"),
        pytest.param("[imap]\nport = 70000\n", None, "imap.port", "between 1 and 65535", id="port-high"),
        pytest.param(None, {"MAILBOT_LISTENER__PORT": "0"}, "listener.port", "between 1", id="port-zero"),
        pytest.param("[imap]\nbatch_size = 0\n", None, "imap.batch_size", "at least 1", id="too-small"),
        pytest.param('[imap]\nidle = "yes"\n', None, "imap.idle", "true or false", id="string-bool"),
        pytest.param(None, {"MAILBOT_IMAP__IDLE": "maybe"}, "imap.idle", "yes/no", id="env-bool"),
        pytest.param('[imap]\nafter = "delete"\n', None, "imap.after", "move, flag", id="enum"),
        pytest.param(
            '[deadlines]\nhours_mode = "office"\n',
            None,
            "deadlines.hours_mode",
            "calendar, business",
            id="mode",
        ),
        pytest.param(
            '[organisation]\ntimezone = "Europe/Amsterdm"\n',
            None,
            "organisation.timezone",
            "time zone",
            id="tz",
        ),
        pytest.param(
            '[organisation]\ntimezone = "../etc/passwd"\n',
            None,
            "organisation.timezone",
            "time zone",
            id="tz-path",
        ),
        pytest.param(
            '[organisation]\nmailbox = "info@"\n', None, "organisation.mailbox", "e-mail", id="address"
        ),
        pytest.param(
            '[smtp]\nfrom_address = "Info <info@ordevos.nl>"\n',
            None,
            "smtp.from_address",
            "plain",
            id="display",
        ),
        pytest.param(
            None,
            {"MAILBOT_STAFF__ADDRESSES": "a@ordevos.nl,not an address"},
            "staff.addresses",
            "entry 2",
            id="list-entry",
        ),
        pytest.param("[staff]\naddresses = []\n", None, "staff.addresses", "at least one", id="no-staff"),
        pytest.param(
            '[staff]\naddresses = ["anna@ordevos.nl", "INFO@ordevos.nl"]\n',
            None,
            "staff.addresses",
            "must not contain the mailbox",
            id="staff-is-the-mailbox",
        ),
        pytest.param(
            None,
            {"MAILBOT_LISTENER__HOST": "0.0.0.0"},
            "listener.host",
            "without authentication",
            id="listener-exposed",
        ),
        pytest.param(
            '[staff]\naddresses = "a@b.nl"\n', None, "staff.addresses", "must be a list", id="not-list"
        ),
        pytest.param(
            '[organisation]\ndomain = "ordevos .nl"\n', None, "organisation.domain", "domain", id="dom"
        ),
        pytest.param(
            '[organisation]\nticket_prefix = "OR-D"\n',
            None,
            "organisation.ticket_prefix",
            "letters",
            id="prefix",
        ),
        pytest.param(
            '[organisation]\nname = ""\n', None, "organisation.name", "must not be empty", id="empty"
        ),
        pytest.param('[staff]\ndigest_time = "25:00"\n', None, "staff.digest_time", "HH:MM", id="hour"),
        pytest.param('[staff]\ndigest_time = "8am"\n', None, "staff.digest_time", "HH:MM", id="time-format"),
        pytest.param(
            '[deadlines]\nextra_holidays = ["15-05-2026"]\n',
            None,
            "deadlines.extra_holidays",
            "YYYY-MM-DD",
            id="date",
        ),
        pytest.param(
            '[deadlines]\nbusiness_day_start = "17:00"\nbusiness_day_end = "09:00"\n',
            None,
            "deadlines.business_day_end",
            "later than",
            id="day-order",
        ),
        pytest.param(
            "[deadlines]\nreminder_hours_before = [24, 24]\n",
            None,
            "deadlines.reminder_hours_before",
            "repeat",
            id="reminder-repeat",
        ),
        pytest.param(
            "[deadlines]\nescalation_hours_after = [-1]\n",
            None,
            "deadlines.escalation_hours_after",
            "",
            id="escalation-negative",
        ),
        pytest.param(
            '[storage]\ndatabase_url = "mailbot.db"\n', None, "storage.database_url", "URL", id="url"
        ),
        pytest.param('[imap]\nhost = "imap.example.nl"\n', None, "imap.username", "required", id="imap-user"),
        pytest.param(
            '[imap]\nhost = "imap.example.nl"\nusername = "u"\n',
            None,
            "imap.password",
            "required",
            id="imap-password",
        ),
        pytest.param('[smtp]\nusername = "u"\n', None, "smtp.password", "required", id="smtp-password"),
        pytest.param('[smtp]\npassword = "p"\n', None, "smtp.username", "required", id="smtp-user"),
        pytest.param(
            REMOTE_IMAP + 'after = "move"\nprocessed_folder = "INBOX"\n',
            None,
            "imap.processed_folder",
            "differ",
            id="move-to-self",
        ),
        pytest.param(
            '[smtp]\nusername = "u"\npassword = "p"\npassword_file = "/etc/hostname"\n',
            None,
            "smtp.password_file",
            "not both",
            id="both-passwords",
        ),
        pytest.param(
            '[imap]\npassword_file = "no/such/file"\n',
            None,
            "imap.password_file",
            "cannot read",
            id="unreadable-password-file",
        ),
    ],
)
def test_every_kind_of_error_names_the_key(
    tmp_path: Path, toml: str | None, env: dict[str, str] | None, key: str, fragment: str
) -> None:
    error = error_of(tmp_path, toml, env)
    assert error.key == key
    assert fragment in error.problem


def test_bad_enum_message_reads_as_the_admin_wrote_it(tmp_path: Path) -> None:
    error = error_of(tmp_path, '[imap]\nsecurity = "ssl"\n')
    assert str(error) == 'imap.security: must be one of tls, starttls, plain (got "ssl")'


def test_invalid_toml_gives_the_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, '[imap]\nhost = "a"\nport 993\n')
    assert error.key == str(tmp_path / "mailbot.toml")
    assert "invalid TOML" in error.problem
    assert re.search(r"line 3\b", error.problem)


def test_unreadable_or_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"MAILBOT_CONFIG": "missing.toml"}, cwd=tmp_path)
    assert caught.value.key == str(tmp_path.resolve() / "missing.toml")
    assert "cannot read" in caught.value.problem

    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe[imap]\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(tmp_path / "binary.toml", {}, cwd=tmp_path)


def test_empty_password_file_is_refused(tmp_path: Path) -> None:
    secret_file(tmp_path, "empty.pw", "\n")
    error = error_of(tmp_path, env={"MAILBOT_SMTP__USERNAME": "u", "MAILBOT_SMTP__PASSWORD_FILE": "empty.pw"})
    assert (error.key, "empty" in error.problem) == ("smtp.password_file", True)


# --- R-C20: no plaintext to a remote host ----------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["imap.example.nl", "10.0.0.5", "192.168.1.1", "localhost.evil.example", "::2"]
)
@pytest.mark.parametrize("section", ["imap", "smtp"])
def test_r_c20_plain_to_a_remote_host_is_refused(tmp_path: Path, section: str, host: str) -> None:
    prefix = f"MAILBOT_{section.upper()}__"
    env = {
        prefix + "HOST": host,
        prefix + "SECURITY": "plain",
        prefix + "USERNAME": "u",
        prefix + "PASSWORD": "p",
    }
    error = error_of(tmp_path, env=env)
    assert error.key == f"{section}.security"
    assert "loopback" in error.problem and "R-C20" in error.problem


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_r_c20_plain_to_loopback_is_allowed(tmp_path: Path, host: str) -> None:
    env = {
        "MAILBOT_IMAP__HOST": host,
        "MAILBOT_IMAP__SECURITY": "plain",
        "MAILBOT_IMAP__USERNAME": "u",
        "MAILBOT_IMAP__PASSWORD": "p",
        "MAILBOT_SMTP__HOST": host,
        "MAILBOT_SMTP__SECURITY": "plain",
    }
    settings = load(tmp_path, env=env)
    assert (settings.imap.port, settings.smtp.port) == (143, 25)
    assert settings.imap.security is settings.smtp.security is Security.PLAIN


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_r_c20_encrypted_connections_to_remote_hosts_are_fine(tmp_path: Path, security: str) -> None:
    settings = load(tmp_path, REMOTE_IMAP + f'security = "{security}"\n')
    assert settings.imap.enabled and settings.imap.security == security


# --- the reference page stays complete -------------------------------------------------------------------


def test_docs_document_every_key_and_its_environment_name() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for dotted in known_keys():
        section, key = dotted.split(".")
        assert env_name(section, key) in text, f"{dotted} missing from docs/configuration.md"
        assert f"## [{section}]" in text or f"[{section}]" in text


def test_docs_example_loads(tmp_path: Path) -> None:
    """The complete example in the docs is valid; only its secret files are swapped for temporary ones."""
    text = DOCS.read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.S)
    assert example is not None
    document = tomllib.loads(example[1])
    assert {f"{s}.{k}" for s, table in document.items() for k in table} <= set(known_keys())
    secret_file(tmp_path, "imap.pw", "a\n")
    secret_file(tmp_path, "smtp.pw", "b\n")
    settings = load(
        tmp_path,
        example[1],
        {"MAILBOT_IMAP__PASSWORD_FILE": "imap.pw", "MAILBOT_SMTP__PASSWORD_FILE": "smtp.pw"},
    )
    assert settings.imap.enabled and settings.smtp.enabled
    assert settings.deadlines.extra_holidays == (date(2026, 5, 15),)


def test_listener_beyond_loopback_only_on_a_declared_private_network(tmp_path: Path) -> None:
    env = {"MAILBOT_LISTENER__HOST": "0.0.0.0", "MAILBOT_LISTENER__PRIVATE_NETWORK": "true"}
    settings = load_settings(None, env)
    assert (settings.listener.host, settings.listener.private_network) == ("0.0.0.0", True)


def test_form_senders_take_addresses_and_whole_domains(tmp_path: Path) -> None:
    toml = '[organisation]\nform_senders = ["NoReply@Forms.Example.nl", "@Web.Example.nl"]\n'
    settings = load(tmp_path, toml)
    assert settings.organisation.form_senders == ("noreply@forms.example.nl", "@web.example.nl")
    from_env = load(tmp_path, env={"MAILBOT_ORGANISATION__FORM_SENDERS": "@web.example.nl, a@b.nl"})
    assert from_env.organisation.form_senders == ("@web.example.nl", "a@b.nl")
    assert load(tmp_path).organisation.form_senders == ()


@pytest.mark.parametrize("entry", ["forms.example.nl", "@", "@not a domain", "noreply@"])
def test_a_form_sender_that_is_neither_address_nor_domain_is_refused(tmp_path: Path, entry: str) -> None:
    error = error_of(tmp_path, f'[organisation]\nform_senders = ["{entry}"]\n')
    assert error.key == "organisation.form_senders"
    assert error.problem.startswith("entry 1: must be an address or @domain like @forms.example.nl")
