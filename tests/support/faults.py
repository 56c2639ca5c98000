"""Fault-test harness: ``mailbot run`` as a real child process over a private Dovecot and an
aiosmtpd sink, killed and restarted, and a referee that checks nothing was lost or doubled.

Used by ``tests/faults`` (bounded, seeded) and ``bench/kill9.py`` (the same figures, bigger runs).
The referee looks only at what the outside world can see — Dovecot's folders, what the SMTP sink
received — and at row counts in the database; it never trusts mailbot's own summary.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import make_msgid
from pathlib import Path

from sqlalchemy import create_engine, func, select

from mailbot.adapters.db.models import Message, Outbox, Quarantine, RawMessage, Ticket
from tests.support.app import REPO, mailbot_env
from tests.support.dovecot import DovecotServer
from tests.support.mail import make_mail
from tests.support.smtp_sink import SmtpSink

LABELLED = REPO.parent / "shared" / "corpus" / "labelled"

_LINE_END = rb"(?:\r?\n)"


def fault_corpus(count: int, seed: int) -> list[bytes]:
    """``count`` distinct messages: the labelled corpus (Dutch, English, German, French; every
    category, automated mail, HTML, attachments) cycled with a fresh Message-ID and sender each,
    plus about one in twelve a customer's follow-up ("Re:", In-Reply-To) to an earlier one."""
    rng = random.Random(seed)
    files = sorted(LABELLED.glob("*.eml"))
    out: list[bytes] = []
    earlier: list[tuple[str, str]] = []  # (sender, message id) of generated mails to follow up on
    for i in range(count):
        if earlier and rng.random() < 1 / 12:
            sender, parent = rng.choice(earlier)
            out.append(
                make_mail(
                    sender=sender,
                    name=f"Klant {i}",
                    subject="Re: Vraag over de training",
                    body=f"Nog een aanvulling op mijn vorige bericht ({i}).\n\nGroet",
                    message_id=make_msgid(idstring=f"f{i}", domain="klant.example"),
                    in_reply_to=parent,
                    references=parent,
                )
            )
            continue
        if i % 10 == 9:
            message_id = make_msgid(idstring=f"g{i}", domain="klant.example")
            sender = f"klant{i}@klant.example"
            earlier.append((sender, message_id))
            out.append(
                make_mail(
                    sender=sender,
                    name=f"Klant {i}",
                    subject="Klacht over de factuur" if i % 20 == 9 else "Vraag over de training",
                    message_id=message_id,
                )
            )
            continue
        raw = files[i % len(files)].read_bytes()
        raw = re.sub(
            rb"(?im)^Message-ID:[^\r\n]*",
            f"Message-ID: <kill9-{seed}-{i}@corpus.example>".encode(),
            raw,
            count=1,
        )
        raw = re.sub(
            rb"(?im)^From:[^\r\n]*(\r?\n[ \t][^\r\n]*)*",
            f"From: Klant {i} <c{i}@corpus.example>".encode(),
            raw,
            count=1,
        )
        out.append(raw)
    return out


def run_env(
    root: Path,
    database_url: str,
    imap: DovecotServer,
    sink: SmtpSink,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a ``mailbot run`` child on this Dovecot and sink (rules only, no model)."""
    env = {
        **os.environ,
        **mailbot_env(
            root,
            database_url,
            {
                "MAILBOT_IMAP__HOST": imap.host,
                "MAILBOT_IMAP__PORT": str(imap.port),
                "MAILBOT_IMAP__SECURITY": "plain",
                "MAILBOT_IMAP__USERNAME": imap.user,
                "MAILBOT_IMAP__PASSWORD": imap.password,
                "MAILBOT_IMAP__POLL_SECONDS": "2",
                "MAILBOT_IMAP__BATCH_SIZE": "50",
                "MAILBOT_IMAP__TIMEOUT_SECONDS": "10",
                "MAILBOT_SMTP__HOST": sink.host,
                "MAILBOT_SMTP__PORT": str(sink.port),
                "MAILBOT_SMTP__SECURITY": "plain",
                "MAILBOT_SMTP__TIMEOUT_SECONDS": "5",
                "MAILBOT_MODEL__ENABLED": "false",
                "MAILBOT_PROCESSING__AUTO_REPLY_CAP_PER_DAY": "1000",
            },
        ),
    }
    env.update(extra or {})
    return env


class MailbotProcess:
    """``mailbot run`` in its own process group, output appended to one log file."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.peak_rss_kib = 0  # the highest VmHWM of any of its lives, read just before each signal

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailbot.cli", "run"],
                env=self.env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no handler runs, no transaction is finished, nothing is flushed."""
        assert self.proc is not None
        self._note_peak()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit status (0 is a clean stop)."""
        assert self.proc is not None
        self._note_peak()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return -9

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _note_peak(self) -> None:
        """The kernel's high-water mark of resident memory (Linux ``/proc``; 0 elsewhere)."""
        assert self.proc is not None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))

    def ensure_stopped(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return ""


@dataclass
class Figures:
    """What a fault run ends with, as the referee counted it."""

    messages: int
    kills: int = 0
    stored: int = 0
    unprocessed: int = 0
    tickets: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    inbound_rows_off: int = 0  # raw messages without exactly one inbound correspondence row
    inbox_left: int = 0
    processed_folder: int = 0
    outbox_sent: int = 0
    outbox_unsent: int = 0
    delivered: int = 0
    never_delivered: int = 0  # a sent row whose Message-ID the sink never saw
    doubled_acks: int = 0  # extra deliveries of one Message-ID
    unknown_deliveries: int = 0  # a delivery no sent row explains
    doubled_tickets: int = 0
    quarantined: int = 0
    integrity: str = "ok"
    elapsed: float = 0.0
    peak_rss_mib: float = 0.0  # of the mailbot process, over all its lives
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)

    def problems(self, max_doubles: int) -> list[str]:
        """Every broken promise, one line each; empty when nothing was lost or doubled."""
        wrong = []
        if self.stored != self.messages:
            wrong.append(f"{self.stored} raw messages stored for {self.messages} delivered")
        if self.unprocessed:
            wrong.append(f"{self.unprocessed} stored messages not processed")
        if self.inbound_rows_off:
            wrong.append(f"{self.inbound_rows_off} messages not on exactly one correspondence row")
        if self.doubled_tickets:
            wrong.append(f"{self.doubled_tickets} messages opened more than one ticket")
        if self.inbox_left or self.processed_folder != self.messages:
            wrong.append(f"INBOX holds {self.inbox_left}, Processed {self.processed_folder}")
        if self.outbox_unsent:
            wrong.append(f"{self.outbox_unsent} outbox rows not sent")
        if self.never_delivered or self.unknown_deliveries:
            wrong.append(
                f"{self.never_delivered} sent rows never arrived, {self.unknown_deliveries} unexplained"
            )
        if self.doubled_acks > max_doubles:
            wrong.append(f"{self.doubled_acks} mails delivered twice (allowed {max_doubles})")
        if self.quarantined:
            wrong.append(f"{self.quarantined} messages quarantined")
        if self.integrity != "ok":
            wrong.append(f"integrity check: {self.integrity}")
        return wrong

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def referee(figures: Figures, database_url: str, imap: DovecotServer, sink: SmtpSink) -> Figures:
    """Count what the database, Dovecot and the sink hold (mailbot must be stopped)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            figures.stored = db.scalar(select(func.count()).select_from(RawMessage)) or 0
            figures.unprocessed = (
                db.scalar(select(func.count()).select_from(RawMessage).where(RawMessage.state != "processed"))
                or 0
            )
            figures.outcomes = dict(Counter(o or "none" for o in db.scalars(select(RawMessage.outcome))))
            raw_ids = set(db.scalars(select(RawMessage.id)))
            per_raw = Counter(db.scalars(select(Message.raw_message_id).where(Message.direction == "in")))
            figures.inbound_rows_off = sum(1 for r in raw_ids if per_raw.get(r) != 1)
            figures.tickets = db.scalar(select(func.count()).select_from(Ticket)) or 0
            figures.doubled_tickets = max(0, figures.tickets - figures.outcomes.get("ticket_opened", 0))
            figures.quarantined = db.scalar(select(func.count()).select_from(Quarantine)) or 0
            sent = set(db.scalars(select(Outbox.message_id).where(Outbox.status == "sent")))
            figures.outbox_sent = len(sent)
            figures.outbox_unsent = (
                db.scalar(select(func.count()).select_from(Outbox).where(Outbox.status != "sent")) or 0
            )
    finally:
        engine.dispose()
    delivered = Counter(_message_id(d.data) for d in sink.messages)
    figures.delivered = sum(delivered.values())
    figures.never_delivered = len(sent - set(delivered))
    figures.unknown_deliveries = sum(n for mid, n in delivered.items() if mid not in sent)
    figures.doubled_acks = sum(n - 1 for mid, n in delivered.items() if mid in sent and n > 1)
    figures.inbox_left = len(imap.uids("INBOX"))
    figures.processed_folder = len(imap.uids("Processed")) if "Processed" in imap.folder_names() else 0
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as check:
            figures.integrity = ",".join(row[0] for row in check.execute("PRAGMA integrity_check"))
    return figures


_MESSAGE_ID = re.compile(rb"(?im)^Message-ID:\s*(<[^>\r\n]+>)")


def _message_id(data: bytes) -> str:
    match = _MESSAGE_ID.search(data.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in data else data)
    return match.group(1).decode() if match else ""


def settled(database_url: str, imap: DovecotServer, messages: int) -> bool:
    """Whether everything delivered is stored, processed and sent, and INBOX is empty."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            stored = db.scalar(select(func.count()).select_from(RawMessage)) or 0
            pending = db.scalar(
                select(func.count()).select_from(RawMessage).where(RawMessage.state == "pending")
            )
            unsent = db.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "pending"))
    except Exception:  # the schema may not exist before the first start finished migrating
        return False
    finally:
        engine.dispose()
    return stored >= messages and not pending and not unsent and not imap.uids("INBOX")


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def kill9_run(
    root: Path,
    database_url: str,
    imap: DovecotServer,
    sink: SmtpSink,
    *,
    messages: int,
    kills: int,
    seed: int,
    settle_timeout: float = 120,
) -> tuple[Figures, MailbotProcess]:
    """Deliver ``messages``, run mailbot, SIGKILL it ``kills`` times at seeded moments (restarting
    it each time), let the last one finish, stop it with SIGTERM, and count."""
    rng = random.Random(seed)
    imap.deliver_files(fault_corpus(messages, seed))
    proc = MailbotProcess(run_env(root, database_url, imap, sink), root / "mailbot.log")
    figures = Figures(messages=messages)
    started = time.monotonic()
    proc.start()
    try:
        for _ in range(kills):
            # Start-up (imports, migrations, the scheduler) takes about a second; the moments are
            # spread over the busy part after it: fetching, processing, sending.
            time.sleep(rng.uniform(0.8, 3.5))
            if not proc.alive():
                raise AssertionError(f"mailbot exited by itself: {proc.log_tail()}")
            proc.kill()
            figures.kills += 1
            proc.start()
        if not wait_until(lambda: settled(database_url, imap, messages), settle_timeout):
            raise AssertionError(f"not settled within {settle_timeout}s: {proc.log_tail()}")
        status = proc.terminate()
        if status != 0:
            raise AssertionError(f"SIGTERM exit status {status}: {proc.log_tail()}")
    finally:
        proc.ensure_stopped()
    figures.elapsed = round(time.monotonic() - started, 1)
    figures.peak_rss_mib = round(proc.peak_rss_kib / 1024, 1)
    return referee(figures, database_url, imap, sink), proc
