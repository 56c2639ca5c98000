"""Issue 17, the command line's manners: every command's help has an example that still parses;
listings have a header row and aligned columns; reporting commands speak JSON; unknown option
values are exit 2; failures are one line in words, never a traceback or an exception class name;
staff see which language the requester reads. Real storage (SQLite and PostgreSQL), real CLI."""

from __future__ import annotations

import json
import shlex
import socket
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mailbot.adapters.maildir import ensure_maildir
from mailbot.adapters.maildir_sender import deliver_to_maildir
from mailbot.cli import main
from mailbot.cli.examples import EXAMPLES, commands_of
from tests.support.app import mailbot_env
from tests.support.app import run_cli as run
from tests.support.mail import make_mail

DMARC = {"MAILBOT_IDENTITY__TRUST_DMARC": "true", "MAILBOT_IDENTITY__AUTHSERV_ID": "mx.ordevos.nl"}
DMARC_PASS = {"Authentication-Results": "mx.ordevos.nl; dmarc=pass header.from=example.nl"}
ALL_COMMANDS = sorted(commands_of(main))


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    values = mailbot_env(tmp_path, database_url, DMARC)
    ensure_maildir(tmp_path / "storage" / "inbox")
    return values


def run_split(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one command."""
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def deliver(tmp_path: Path, **mail: object) -> None:
    deliver_to_maildir(tmp_path / "storage" / "inbox", make_mail(**mail))  # type: ignore[arg-type]


# -- help: an example on every command, and every example parses -----------------------------------


@pytest.mark.parametrize("path", ALL_COMMANDS)
def test_every_commands_help_has_an_example(path: str) -> None:
    result = CliRunner().invoke(main, [*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    examples = result.output.partition("Example")[2]
    assert examples, f"mailbot {path} --help has no example"
    assert any(line.strip().startswith("mailbot ") for line in examples.splitlines())


def _parse(line: str) -> click.Command:
    """Parse an example as click would (options, choices, required values), without running it."""
    words = shlex.split(line.split("  (")[0])
    assert words[0] == "mailbot", line
    tokens = words[1:]
    ctx = click.Context(main, info_name="mailbot")
    if tokens[0] == "--config":  # the root's one option with a value (a path: nothing to check)
        tokens = tokens[2:]
    command: click.Command = main
    while isinstance(command, click.Group) and tokens and not tokens[0].startswith("-"):
        found = command.get_command(ctx, tokens[0])
        assert found is not None, f"{line}: no command {tokens[0]!r}"
        ctx = click.Context(found, info_name=tokens[0], parent=ctx)
        command, tokens = found, tokens[1:]
    try:
        command.make_context(ctx.info_name, list(tokens), parent=ctx.parent)
    except click.BadParameter as exc:
        if "does not exist" not in exc.message:  # the example's files are the reader's, not ours
            raise
    return command


@pytest.mark.parametrize(("path", "line"), [(p, line) for p, lines in EXAMPLES.items() for line in lines])
def test_every_example_parses(path: str, line: str) -> None:
    command = _parse(line)
    assert (
        path == "" or command is commands_of(main)[path] or isinstance(commands_of(main)[path], click.Group)
    )


def test_a_broken_example_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        _parse("mailbot tickets list --status bogus")
    with pytest.raises(click.UsageError):
        _parse("mailbot tickets extend ORD-2026-00042 --months 3 --reason x")


def test_shell_completion_is_documented_and_works() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "_MAILBOT_COMPLETE=bash_source mailbot" in readme
    result = CliRunner().invoke(
        main,
        [],
        env={"_MAILBOT_COMPLETE": "bash_complete", "COMP_WORDS": "mailbot tick", "COMP_CWORD": "1"},
        prog_name="mailbot",
    )
    assert "tickets" in result.output


# -- unknown values are errors, exit 2 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("tickets", "list", "--status", "bogus"),
        ("tickets", "list", "--category", "klacht"),
        ("tickets", "list", "--due-within", "soon"),
        ("tickets", "status", "ORD-2026-00001", "done"),
        ("tickets", "reclassify", "ORD-2026-00001", "spam"),
        ("tickets", "extend", "ORD-2026-00001", "--months", "3", "--reason", "x"),
        ("staff", "add", "anna@ordevos.nl", "--role", "boss"),
        ("customers", "export", "jan@example.nl", "--out", "x", "--language", "de"),
        ("digest",),
        ("fetch",),
    ],
)
def test_unknown_option_values_exit_2(env: dict[str, str], args: tuple[str, ...]) -> None:
    code, out, err = run_split(env, *args)
    assert code == 2, out + err
    assert "no tickets" not in out and "Traceback" not in err
    # One line, like every bad input, naming the command and where to read more.
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"mailbot {args[0]}")


# -- a whole staff session: listings, JSON, the requester's language ----------------------------------


def test_listings_have_headers_and_reports_speak_json(env: dict[str, str], tmp_path: Path) -> None:
    deliver(
        tmp_path,
        sender="jane@example.nl",
        name="Jane Doe",
        subject="Access request",
        body="Hello,\n\nI would like a copy of all the personal data you hold about me (GDPR article 15)."
        "\n\nJane",
        headers=DMARC_PASS,
    )
    deliver(
        tmp_path, sender="b@example.nl", subject="Out of office", headers={"Auto-Submitted": "auto-replied"}
    )
    deliver_to_maildir(tmp_path / "storage" / "inbox", b"\r\n\r\nnot mail")
    assert run(env, "fetch", "--once")[0] == 0

    code, out = run(env, "tickets", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["REF", "STATUS", "CATEGORY"]
    assert lines[1].index("access") == lines[0].index("CATEGORY")  # aligned under its header
    [ticket] = json.loads(run(env, "tickets", "list", "--json")[1])
    ref = ticket["ref"]
    assert ticket["category"] == "access" and ticket["language"] == "en"

    code, out = run(env, "messages", "list", "--automated")
    assert out.splitlines()[0].split()[:3] == ["RECEIVED", "RULE", "TICKET"], out
    code, out = run(env, "quarantine", "list")
    header, row = out.splitlines()[:2]
    assert header.split()[:4] == ["ID", "QUARANTINED", "ATTEMPTS", "REASON"]
    assert "unparseable" in row and "UnparseableMail" not in out, out
    [entry] = json.loads(run(env, "quarantine", "list", "--json")[1])
    assert entry["reason"] == "unparseable mail"
    code, out = run(env, "tasks", "list")
    assert out.strip() == "no open tasks"
    code, out = run(env, "staff", "add", "hoofdkantoor@ordevos.nl", "--json")
    assert code == 0 and json.loads(out)["link"].startswith("http")
    code, out = run(env, "staff", "list")
    assert out.splitlines()[0].split() == ["EMAIL", "ROLE", "STATE"], out
    assert out.splitlines()[1].startswith("hoofdkantoor@ordevos.nl")

    # Staff are told which language the requester reads: in tickets show and in the notice.
    code, out = run(env, "tickets", "show", ref)
    assert "reads:     English (letters and your answer in English)" in out
    notices = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in (tmp_path / "storage" / "sent").rglob("*")
        if p.is_file()
    ]
    assert any("Taal klant:         Engels (antwoord in het Engels)" in n for n in notices)

    # The reporting commands, each as JSON.
    checks = json.loads(run(env, "check-config", "--json")[1])
    assert checks[0] == {"check": "configuration", "ok": True, "detail": ""}
    code, out = run(env, "rules", "check", "--json")
    rules = json.loads(out)
    assert code == 0 and rules["cases"] == rules["right"] > 0 and rules["failures"] == []
    code, out = run(env, "templates", "check", "--json")
    assert code == 0 and json.loads(out)["errors"] == []
    digest = json.loads(run(env, "digest", "--dry-run", "--json")[1])
    assert [t["ref"] for t in digest["gdpr_open"]] == [ref] and digest["empty"] is False

    reason = "Uw verzoek betreft gegevens uit vier systemen en zes trainingsjaren, dat kost meer tijd."
    code, out = run(env, "tickets", "extend", ref, "--months", "1", "--reason", reason, "--json")
    extended = json.loads(out)
    assert (
        code == 0 and extended["ref"] == ref and extended["extra_months"] == 1 and extended["mail_sent"] >= 1
    )
    assert extended["legal_due"] > extended["original_due"]
    letters = [p.read_bytes() for p in (tmp_path / "storage" / "sent").rglob("*") if p.is_file()]
    import email
    import email.policy

    texts = []
    for raw in letters:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        part = msg.get_body(("plain",))
        texts.append(str(part.get_content()) if part is not None else "")
    # An English reader is told the reason is in Dutch, in staff's own words (issue 17).
    assert any(f"in our staff member's own words (in Dutch):\n\n{reason}" in t for t in texts)

    code, out = run(env, "tickets", "pause", ref, "--json")
    assert code == 0 and json.loads(out)["paused"] is True
    code, out = run(env, "tickets", "resume", ref, "--json")
    resumed = json.loads(out)
    assert code == 0 and resumed["legal_due"] and resumed["legal_due_unpaused"]
    code, out = run(
        env, "tickets", "refuse", ref, "--reason", "Manifestly unfounded.", "--actor", "anna", "--json"
    )
    assert code == 0 and json.loads(out)["reasons"] == 1


# -- failures in words ---------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_imap_is_one_line_in_words(env: dict[str, str]) -> None:
    port = _closed_port()
    bad = {
        **env,
        "MAILBOT_IMAP__HOST": "127.0.0.1",
        "MAILBOT_IMAP__PORT": str(port),
        "MAILBOT_IMAP__SECURITY": "plain",
        "MAILBOT_IMAP__USERNAME": "u",
        "MAILBOT_IMAP__PASSWORD": "p",
    }
    code, _, err = run_split(bad, "fetch", "--once")
    assert code == 1
    assert f"mailbot: IMAP connect at 127.0.0.1:{port} failed (connection refused)" in err, err
    assert "Traceback" not in err and "Error" not in err and "Errno" not in err
    verbose = CliRunner().invoke(main, ["-v", "fetch", "--once"], env=bad)
    assert verbose.exit_code == 1 and verbose.exception is not None  # -v: the traceback for a developer


def test_unreachable_database_is_one_line_in_words(tmp_path: Path) -> None:
    env = mailbot_env(tmp_path, f"postgresql://mailbot@127.0.0.1:{_closed_port()}/mailbot")
    code, _, err = run_split(env, "tickets", "list")
    assert code == 1 and err.startswith("mailbot: database: ") and "refused" in err.lower(), err
    assert "Traceback" not in err and "OperationalError" not in err and len(err.strip().splitlines()) == 1


def test_no_cli_message_formats_an_exception_by_class() -> None:
    """A grep over the command modules: no ``type(exc).__name__`` or ``{exc!r}`` reaches a user."""
    import re

    cli = Path(__file__).resolve().parents[2] / "mailbot" / "cli"
    pattern = re.compile(r"type\((exc|e|error)\)\.__name__|\{(exc|e|error)!r\}|repr\((exc|e|error)\)")
    offenders = [
        f"{p.name}:{n}"
        for p in cli.glob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_check_config_warns_when_the_letter_promises_before_the_ladder(tmp_path: Path) -> None:
    env = mailbot_env(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", {"MAILBOT_DEADLINES__HOURS_MODE": "business"}
    )
    code, out = run(env, "check-config")
    assert code == 0 and "deadlines: warning: promise_mode working_days promises" in out
    code, out = run(env, "check-config", "--json")
    assert [c["check"] for c in json.loads(out)].count("deadlines") == 1
    calm = mailbot_env(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    assert "deadlines" not in run(calm, "check-config")[1]


def test_error_kinds_and_languages_in_words() -> None:
    from mailbot.errors import error_kind_words
    from mailbot.mail.language import reads

    assert error_kind_words("UnparseableMail") == "unparseable mail"
    assert error_kind_words("mailbot.adapters.crypto.DecryptionError") == "decryption"
    assert error_kind_words("") == "processing failed"
    assert reads("fr") == "French (letters in Dutch and English; answer in English)"
    assert reads(None).startswith("Dutch")


#: Commands that report nothing to a script: the service, the web server, a letter shown to read.
NOT_REPORTING = {"run", "web", "templates preview"}


def test_every_reporting_command_takes_json() -> None:
    missing = [
        path
        for path, command in commands_of(main).items()
        if not isinstance(command, click.Group)
        and path not in NOT_REPORTING
        and not any(p.name == "as_json" and "--json" in p.opts for p in command.params)  # type: ignore[attr-defined]
    ]
    assert missing == []


def test_reports_without_tickets_are_json_too(env: dict[str, str]) -> None:
    assert run(env, "init", "--json")[0] == 0
    for args, expected in [
        (("audit", "verify", "--json"), {"ok": True, "events": 0, "broken": None}),
        (("backup", "list", "--json"), []),
        (("tasks", "list", "--json"), []),
        (("quarantine", "list", "--json"), []),
        (("staff", "list", "--json"), []),
        (("retention", "purge", "--json"), {"tickets": 0, "retained": 0, "letters": 0}),
        (("send", "--once", "--json"), {"sent": 0, "retried": 0, "failed": 0}),
    ]:
        code, out = run(env, *args)
        assert code == 0 and json.loads(out) == expected, (args, out)


def test_a_refusal_is_one_line_without_click_error_prefix(env: dict[str, str]) -> None:
    code, out, err = run_split(env, "tickets", "show", "ORD-2026-99999")
    assert code == 1 and out == "" and err == "mailbot: no ticket ORD-2026-99999\n", err
