"""The command line on real storage: fetch --once --json, tickets, quarantine, check-config, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.adapters.maildir import ensure_maildir
from mailbot.adapters.maildir_sender import deliver_to_maildir
from mailbot.cli import main
from tests.support.app import mailbot_env
from tests.support.app import run_cli as run
from tests.support.mail import make_mail


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    values = mailbot_env(tmp_path, database_url)
    ensure_maildir(tmp_path / "storage" / "inbox")
    return values


def test_fetch_once_json_then_tickets_list_and_show(env: dict[str, str], tmp_path: Path) -> None:
    inbox = tmp_path / "storage" / "inbox"
    deliver_to_maildir(inbox, make_mail(subject="Klacht over de coach", body="Ik ben ontevreden."))
    deliver_to_maildir(
        inbox, make_mail(sender="b@example.nl", subject="Vraag", headers={"Auto-Submitted": "auto-replied"})
    )
    deliver_to_maildir(inbox, b"\r\n\r\nnot mail")
    code, out = run(env, "fetch", "--once", "--json")
    assert code == 0, out
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts == {
        "fetched": 3,
        "tickets_opened": 1,
        "appended": 0,
        "automated": 1,
        "duplicates": 0,
        "quarantined": 1,
    }
    code, out = run(env, "tickets", "list", "--json")
    [ticket] = json.loads(out)
    assert ticket["category"] == "complaint" and ticket["ref"].startswith("ORD-")
    code, out = run(env, "tickets", "show", ticket["ref"])
    assert code == 0 and "Klacht over de coach" in out and "Ik ben ontevreden." in out and "rule" in out
    code, out = run(env, "messages", "list", "--automated", "--json")
    assert len(json.loads(out)) == 1
    code, out = run(env, "quarantine", "list", "--json")
    [entry] = json.loads(out)
    code, out = run(env, "quarantine", "retry", str(entry["id"]))
    assert code == 1 and "quarantined" in out  # still not mail: back in quarantine, nothing lost
    code, out = run(env, "tickets", "show", "ORD-2026-99999")
    assert code == 1 and "no ticket" in out


def test_bad_config_is_one_line_naming_the_key_exit_2(env: dict[str, str]) -> None:
    env = {**env, "MAILBOT_IMAP__SECURITY": "ssl"}
    result = CliRunner().invoke(main, ["check-config"], env=env)
    assert result.exit_code == 2
    assert "imap.security" in result.output and len(result.output.strip().splitlines()) == 1


def test_check_config_connect_reports_each_service(env: dict[str, str]) -> None:
    code, out = run(env, "check-config", "--connect")
    assert code == 0 and "database: ok" in out
    bad = {
        **env,
        "MAILBOT_IMAP__HOST": "127.0.0.1",
        "MAILBOT_IMAP__PORT": "1",
        "MAILBOT_IMAP__SECURITY": "plain",
        "MAILBOT_IMAP__USERNAME": "u",
        "MAILBOT_IMAP__PASSWORD": "p",
    }
    result = CliRunner().invoke(main, ["check-config", "--connect"], env=bad)
    assert result.exit_code == 1 and "imap: FAILED" in result.output


def test_broken_rules_file_is_refused_at_start_with_file_and_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 3: a rules file the company broke stops start-up with the file, line and reason."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-broken.toml").write_text(
        '[[rule]]\nid = "x"\ncategory = "complaint"\nany = [\n', encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["fetch", "--once"], env={**env, "MAILBOT_RULES__DIR": str(rules)})
    assert result.exit_code == 2
    assert "10-broken.toml:4: not valid TOML" in result.output


def test_check_config_connect_names_the_problem_in_words_not_class_names(
    tmp_path: Path, database_url: str
) -> None:
    """Issue 17: 'imap: cannot connect … (connection refused)', never 'ConnectionRefusedError'."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    env = mailbot_env(
        tmp_path,
        database_url,
        {
            "MAILBOT_IMAP__HOST": "127.0.0.1",
            "MAILBOT_IMAP__PORT": str(port),
            "MAILBOT_IMAP__SECURITY": "plain",
            "MAILBOT_IMAP__USERNAME": "u",
            "MAILBOT_IMAP__PASSWORD": "p",
        },
    )
    code, out = run(env, "check-config", "--connect")
    line = next(line for line in out.splitlines() if line.startswith("imap:"))
    assert code == 1 and f"127.0.0.1:{port}" in line and "connection refused" in line, out
    assert "Error" not in out and "Errno" not in out


def test_plain_reasons_have_no_class_names() -> None:
    import ssl

    from mailbot.errors import plain_reason

    assert plain_reason(ConnectionRefusedError(111, "Connection refused")) == "connection refused"
    assert plain_reason(TimeoutError()) == "timed out"
    assert plain_reason(ssl.SSLError(1, "[SSL] wrong version")).startswith("TLS error")
    assert plain_reason(OSError(2, "No such file or directory")) == "no such file or directory"
    assert plain_reason(ValueError("")) == "failed"


def test_check_config_connect_creates_nothing_and_says_what_it_did_not_check(tmp_path: Path) -> None:
    env = mailbot_env(tmp_path, f"sqlite:///{tmp_path / 'fresh' / 'mailbot.db'}")
    code, out = run(env, "check-config", "--connect")
    assert code == 0, out
    assert "does not exist yet" in out and not (tmp_path / "fresh" / "mailbot.db").exists()
    assert "source: ok (no IMAP configured: Maildir" in out
    assert "smtp: ok (not configured: outgoing mail goes to Maildir" in out


@pytest.mark.parametrize("command", ["fetch", "send", "deadlines"])
def test_one_shot_commands_without_once_say_what_they_do(env: dict[str, str], command: str) -> None:
    code, out = run(env, command)
    assert code == 2 and "--once does" in out and "mailbot run" in out and "Missing option" not in out


def test_templates_preview_typo_lists_the_purposes(env: dict[str, str]) -> None:
    code, out = run(env, "templates", "preview", "ack_complain", "nl")
    assert code == 2 and 'did you mean "ack_complaint"' in out and "staff_answer" in out


def test_health_reports_each_check_and_fails_without_a_recent_pass(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    """Issue 17: the container HEALTHCHECK. Before init nothing is healthy; after init the
    database and source are, but no service has passed yet; a fresh heartbeat makes it healthy,
    a stale one does not."""
    from datetime import UTC, datetime, timedelta

    from mailbot.config import load_settings
    from mailbot.health import record_pass

    if database_url.startswith("sqlite"):  # the PostgreSQL test database comes migrated
        code, out = run(env, "health", "--no-service")
        assert code == 1 and "database: FAILED" in out and "does not exist" in out
    assert run(env, "init")[0] == 0
    code, out = run(env, "health", "--no-service")
    assert code == 0 and "database: ok" in out and "source: ok" in out, out
    code, out = run(env, "health")
    assert code == 1 and "no intake pass recorded" in out
    settings = load_settings(None, env)
    record_pass(settings, datetime.now(UTC))
    code, out = run(env, "health", "--json")
    assert code == 0 and all(c["ok"] for c in json.loads(out))
    record_pass(settings, datetime.now(UTC) - timedelta(hours=1))
    code, out = run(env, "health")
    assert code == 1 and "intake: FAILED (last pass" in out


def test_tickets_show_says_why_an_unanswerable_sender_got_no_acknowledgement(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 13: the dotless-domain sender gets a ticket; staff see in ``tickets show`` why no
    acknowledgement went out, so they know to answer by other means."""
    inbox = tmp_path / "storage" / "inbox"
    deliver_to_maildir(inbox, make_mail(sender="jan@localhost", subject="Klacht over de factuur"))
    code, out = run(env, "fetch", "--once", "--json")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["tickets_opened"] == 1, out
    code, out = run(env, "tickets", "list", "--json")
    [ticket] = json.loads(out)
    code, out = run(env, "tickets", "show", ticket["ref"])
    assert code == 0 and "no reply can be addressed to the sender" in out, out
    code, out = run(env, "tickets", "show", ticket["ref"], "--json")
    reasons = [e["reason"] for e in json.loads(out)["events"] if e["kind"] == "ack.skipped"]
    assert reasons == ["no acknowledgement: no reply can be addressed to the sender"]
