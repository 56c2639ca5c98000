"""Every labelled message run through ingest with the real rules: acknowledgements exactly for the
labels that expect one (``expect_ack``), and two mailbots answering each other stop after the first
acknowledgement (R-C1, R-C5: no loops)."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from mailbot.adapters.db.models import Message, Outbox, RawMessage, Ticket, TicketSequence
from mailbot.services.outbox import drain
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource
from tests.support.mail import make_mail
from tests.support.store import open_store

LABELLED = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "labelled"
RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class SinkMailer:
    """Collects what a mailbot sends, so it can be delivered to the other one."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []

    def send(self, sender: str, recipients, message: bytes) -> None:
        self.sent.append((sender, list(recipients), message))


def seed_existing_tickets(app, rows: list[dict[str, str]]) -> None:
    """The corpus's replies answer tickets opened before it (ORD-2026-00031 …) and our earlier mail
    (``<ticket-31.ack@ordevos.nl>``): create those, as head office's database would have them."""
    import email

    now = RECEIVED - timedelta(days=3)
    with open_store(app) as store:
        store.session.add(TicketSequence(prefix="ORD", year=2026, last=500))
        for row in rows:
            if not row["ticket_ref"] or store.ticket_by_ref(row["ticket_ref"]):
                continue
            customer = store.find_or_create_customer(row["sender"], None, now)
            ticket = Ticket(
                ref=row["ticket_ref"],
                category="other",
                status="open",
                language="nl",
                rule="seed",
                confidence=1.0,
                received_at=now,
                opened_at=now,
                updated_at=now,
            )
            store.add_ticket(ticket, customer, "eerder verzoek", ())
            headers = email.message_from_bytes((LABELLED / row["file"]).read_bytes())
            for our_id in re.findall(r"<[^<>]+@ordevos\.nl>", str(headers.get("In-Reply-To", ""))):
                store.add_message(
                    ticket=ticket,
                    customer=customer,
                    raw_id=None,
                    direction="out",
                    kind="acknowledgement",
                    message_id=our_id,
                    received_at=now,
                    now=now,
                    subject="",
                    body="",
                    sender="info@ordevos.nl",
                    recipients=[],
                    meta={},
                )


def test_acknowledgements_exactly_where_the_labels_expect_them(tmp_path: Path, clock) -> None:
    with (LABELLED / "labels.csv").open(encoding="utf-8") as labels:
        rows = list(csv.DictReader(labels))
    # A high cap: this test is about which messages deserve an acknowledgement, not about flood control.
    app = make_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        clock,
        mailer=SinkMailer(),
        MAILBOT_PROCESSING__AUTO_REPLY_CAP_PER_DAY="1000",
    )
    seed_existing_tickets(app, rows)
    source = MemorySource(batch_size=200)
    keys = {}
    for row in rows:
        message = source.add((LABELLED / row["file"]).read_bytes(), RECEIVED)
        keys[message.key] = row
    run_pass(source, app.database, app.processor, app.clock)
    with open_store(app) as store:
        # A message earns an acknowledgement only if it opened the ticket that got one; automated
        # mail attached to an acknowledged ticket (an out-of-office quoting its ref) got nothing.
        opened = {
            r.source_key: r.id
            for r in store.session.scalars(select(RawMessage))
            if r.outcome == "ticket_opened"
        }
        acked_tickets = set(
            store.session.scalars(select(Outbox.ticket_id).where(Outbox.purpose == "acknowledgement"))
        )
        ticket_of_raw = dict(
            store.session.execute(
                select(Message.raw_message_id, Message.ticket_id).where(Message.direction == "in")
            ).all()
        )
    wrong = []
    for key, row in keys.items():
        got = key in opened and ticket_of_raw.get(opened[key]) in acked_tickets
        if got != (row["expect_ack"] == "yes"):
            wrong.append(f"{row['file']} ({row['category']}): expected ack={row['expect_ack']}, got {got}")
    auto_acked = [w for w in wrong if "(auto)" in w and "got True" in w]
    assert auto_acked == []  # zero automated messages acknowledged: that is how loops start
    assert wrong == []
    app.close()


def test_two_mailbots_pointed_at_each_other_exchange_one_acknowledgement(tmp_path: Path, clock) -> None:
    """Case 30: A acknowledges B's message; B sees an auto-reply and stays silent; nothing more."""
    mail_a, mail_b = SinkMailer(), SinkMailer()
    a = make_app(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", clock, mailer=mail_a)
    b = make_app(
        tmp_path / "b",
        f"sqlite:///{tmp_path / 'b.db'}",
        clock,
        mailer=mail_b,
        MAILBOT_ORGANISATION__MAILBOX="info@other.example",
        MAILBOT_ORGANISATION__DOMAIN="other.example",
        MAILBOT_STAFF__ADDRESSES="staff@other.example",
    )
    inbox_a, inbox_b = MemorySource(), MemorySource()
    inbox_a.add(
        make_mail(sender="info@other.example", name="Other", subject="Vraag over uw training"), RECEIVED
    )
    inboxes = {"other.example": inbox_b, "ordevos.nl": inbox_a}
    for _ in range(5):  # a few rounds of each reading its inbox and sending its outbox
        for app, inbox, mailer in ((a, inbox_a, mail_a), (b, inbox_b, mail_b)):
            run_pass(inbox, app.database, app.processor, app.clock)
            before = len(mailer.sent)
            drain(app.database, mailer, app.clock, app.outbox_policy)
            for _sender, recipients, data in mailer.sent[before:]:
                for recipient in recipients:
                    inboxes[recipient.rpartition("@")[2]].add(data, RECEIVED)
            clock.advance(minutes=5)
    a_to_b = [m for m in mail_a.sent if any(r.endswith("@other.example") for r in m[1])]
    b_to_a = [m for m in mail_b.sent if any(r.endswith("@ordevos.nl") for r in m[1])]
    assert len(a_to_b) == 1  # the first acknowledgement
    assert b_to_a == []  # B recognises it as an auto-reply and answers nothing
    a.close()
    b.close()
