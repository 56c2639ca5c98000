"""Run a corpus through the whole pipeline with the CLI and print what came out, as JSON.

Used to show that a refactoring changed no behaviour: run it before and after and diff the two
files. Each message is delivered into a fresh embedded Maildir with a fixed arrival time (its
position in the corpus), then ``mailbot fetch --once`` runs; the snapshot holds every ticket
(category, secondary, triage, rule, status, deadlines, its messages' directions, kinds and
subjects), the automated mail, the quarantine and every letter sent (recipient, subject, body),
with the volatile parts (Message-IDs, dates) removed.

    .venv/bin/python bench/corpus_snapshot.py ../shared/corpus/labelled > /tmp/before.json
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE_TIME = 1_767_600_000  # 2026-01-05 08:00 UTC, a Monday: arrival of the first message


def _mailbot(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(REPO / ".venv/bin/mailbot"), *args], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def snapshot(corpus: Path) -> dict[str, object]:
    files = sorted(p for p in corpus.rglob("*.eml") if p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        storage = Path(tmp) / "storage"
        env = {
            **os.environ,
            "MAILBOT_STORAGE__DIR": str(storage),
            "MAILBOT_MASTER_KEY": "c25hcHNob3Qtc25hcHNob3Qtc25hcHNob3Qtc25hcHM=",
            "MAILBOT_LISTENER__ENABLED": "false",
            "MAILBOT_RULES__DIR": str(REPO / "mailbot" / "defaults" / "rules"),
            "MAILBOT_TEMPLATES__DIR": str(REPO / "mailbot" / "defaults" / "templates"),
            "MAILBOT_STAFF__ADDRESSES": "office@ordevos.nl",
        }
        _mailbot(env, "init")
        new = storage / "inbox" / "new"
        for n, path in enumerate(files):
            target = new / f"{n:05d}.{path.stem}"
            target.write_bytes(path.read_bytes())
            os.utime(target, (BASE_TIME + 600 * n, BASE_TIME + 600 * n))
        _mailbot(env, "fetch", "--once", "--json")
        tickets = []
        for row in json.loads(_mailbot(env, "tickets", "list", "--json")):
            shown = json.loads(_mailbot(env, "tickets", "show", row["ref"], "--json"))
            tickets.append(
                {
                    key: shown.get(key)
                    for key in (
                        "ref",
                        "category",
                        "secondary",
                        "status",
                        "triage",
                        "language",
                        "rule",
                        "received_at",
                        "first_response_due",
                        "legal_due",
                        "internal_due",
                        "resolution_due",
                        "evidence",
                    )
                }
                | {
                    "messages": [
                        [m["direction"], m["kind"], _digest(m["subject"]), _digest(m["body"])]
                        for m in shown["messages"]
                    ]
                }
            )
        automated = [
            [m["rule"], m["ticket"], _digest(m["subject"] or "")]
            for m in json.loads(_mailbot(env, "messages", "list", "--automated", "--json"))
        ]
        quarantined = [q["error"] for q in json.loads(_mailbot(env, "quarantine", "list", "--json"))]
        sent = []
        for mail_file in sorted((storage / "sent").rglob("*")):
            if not mail_file.is_file():
                continue
            message = email.message_from_bytes(mail_file.read_bytes(), policy=email.policy.default)
            body = message.get_body(("plain",))
            sent.append(
                [
                    str(message["To"]),
                    str(message["Subject"]),
                    str(message.get("Auto-Submitted")),
                    _digest(body.get_content() if body else ""),
                ]
            )
        sent.sort()
    return {
        "tickets": tickets,
        "automated": sorted(automated, key=str),
        "quarantined": quarantined,
        "sent": sent,
    }


if __name__ == "__main__":
    json.dump(snapshot(Path(sys.argv[1])), sys.stdout, indent=1, ensure_ascii=False)
    print()
