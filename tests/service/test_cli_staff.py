"""``mailbot tickets reply|note|assign|status|close`` and ``tickets list`` filters on real storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailbot.adapters.maildir import ensure_maildir
from mailbot.adapters.maildir_sender import deliver_to_maildir
from tests.support.app import mailbot_env
from tests.support.app import run_cli as run
from tests.support.mail import make_mail


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    values = mailbot_env(
        tmp_path, database_url, {"MAILBOT_STAFF__ADDRESSES": "anna@ordevos.nl,bram@ordevos.nl"}
    )
    ensure_maildir(tmp_path / "storage" / "inbox")
    return values


def sent_to(tmp_path: Path, address: str) -> list[str]:
    texts = [p.read_text(errors="replace") for p in (tmp_path / "storage" / "sent").rglob("*") if p.is_file()]
    return [t for t in texts if f"To: {address}" in t]


def opened(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    inbox = tmp_path / "storage" / "inbox"
    deliver_to_maildir(inbox, make_mail(subject="Klacht over de coach", body="Ik ben ontevreden."))
    deliver_to_maildir(inbox, make_mail(sender="piet@example.nl", subject="Vraag over de training"))
    code, out = run(env, "fetch", "--once")
    assert code == 0, out
    code, out = run(env, "tickets", "list", "--json")
    return {t["category"]: t["ref"] for t in json.loads(out)}


def test_reply_note_assign_close_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    refs = opened(env, tmp_path)
    complaint = refs["complaint"]
    answer = tmp_path / "answer.txt"
    answer.write_text("Beste Jan,\n\nWe bellen u morgen.\n\nAnna", encoding="utf-8")
    code, out = run(env, "tickets", "reply", complaint, "--body-file", str(answer), "--as", "anna")
    assert code == 0, out
    run(env, "send", "--once")
    assert any("We bellen u morgen." in t for t in sent_to(tmp_path, "jan.jansen@example.nl"))

    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Teruggebeld, opgelost.\\n" > "$1"\n', encoding="utf-8")
    editor.chmod(0o755)
    code, out = run({**env, "EDITOR": str(editor)}, "tickets", "note", complaint, "--as", "bram@ordevos.nl")
    assert code == 0, out
    code, out = run(env, "tickets", "assign", complaint, "bram", "--as", "anna")
    assert code == 0 and "bram@ordevos.nl" in out
    code, out = run(env, "tickets", "close", complaint, "--as", "bram")
    assert code == 0, out
    code, out = run(env, "tickets", "show", complaint)
    assert "Teruggebeld, opgelost." in out and "assignee:  bram@ordevos.nl" in out
    for event in ("ticket.answered", "ticket.note", "ticket.assigned", "ticket.status"):
        assert event in out
    show = json.loads(run(env, "tickets", "show", complaint, "--json")[1])
    assert show["status"] == "closed" and show["first_responded_at"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tickets", "status", "{ref}", "done", "--as", "anna"), "is not one of"),
        (("tickets", "reply", "{ref}", "--body-file", "{file}"), "--as"),
        (("tickets", "reply", "{ref}", "--body-file", "{file}", "--as", "eve"), "not on the staff list"),
        (("tickets", "reply", "ORD-2026-99999", "--body-file", "{file}", "--as", "anna"), "no ticket"),
        (("tickets", "assign", "{ref}", "carla", "--as", "anna"), "not on the staff list"),
        (("tickets", "reply", "{ref}", "--body-file", "{missing}", "--as", "anna"), "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_and_changes_nothing(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    ref = opened(env, tmp_path)["complaint"]
    body = tmp_path / "a.txt"
    body.write_text("hallo", encoding="utf-8")
    filled = [a.format(ref=ref, file=body, missing=tmp_path / "nope.txt") for a in args]
    code, out = run(env, *filled)
    assert code == 2 and message in out, out
    assert len(out.strip().splitlines()) == 1 and "Error" not in out and "Traceback" not in out
    show = json.loads(run(env, "tickets", "show", ref, "--json")[1])
    assert show["status"] == "new" and show["first_responded_at"] is None


def test_list_has_a_header_filters_and_sorts_by_nearest_deadline(env: dict[str, str], tmp_path: Path) -> None:
    refs = opened(env, tmp_path)
    code, out = run(env, "tickets", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["REF", "STATUS", "CATEGORY"]
    assert lines[1].startswith(refs["complaint"])  # the complaint's 48 hours come first
    code, out = run(env, "tickets", "list", "--category", "complaint", "--json")
    assert [t["ref"] for t in json.loads(out)] == [refs["complaint"]]
    code, out = run(env, "tickets", "list", "--due-within", "24h", "--json")
    assert json.loads(out) == []  # received just now: nothing due within a day
    code, out = run(env, "tickets", "list", "--due-within", "3d", "--json")
    assert refs["complaint"] in [t["ref"] for t in json.loads(out)]
    code, out = run(env, "tickets", "list", "--overdue", "--json")
    assert json.loads(out) == []
    code, out = run(env, "tickets", "list", "--assignee", "-", "--json")
    assert len(json.loads(out)) == 2
    code, out = run(env, "tickets", "list", "--status", "bogus")
    assert code == 2 and "bogus" in out
    code, out = run(env, "tickets", "list", "--due-within", "soon")
    assert code == 2 and "90m, 24h" in out
