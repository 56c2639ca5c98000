"""Ingest + process on real storage (SQLite and PostgreSQL), with an in-memory source.

Proves the core invariants: nothing lost, nothing doubled, replies thread, poison is quarantined.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Customer, Message, Outbox, RawMessage, Ticket
from mailbot.bootstrap import App
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MODEL_SAYS_MACHINE, MemorySource, keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store

RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> App:
    application = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    yield application
    application.close()


def one_pass(app: App, source: MemorySource):
    return run_pass(source, app.database, app.processor, app.clock)


def tickets(app: App) -> list[Ticket]:
    with open_store(app) as store:
        return store.all_tickets()


def _answer_to_first(app: App, first_subject: str, **answer: str):
    """A first message, then one whose In-Reply-To and References name it, an hour later."""
    source = MemorySource()
    source.add(make_mail(subject=first_subject, message_id="<first@example.nl>"), RECEIVED)
    one_pass(app, source)
    answer_mail = make_mail(in_reply_to="<first@example.nl>", references="<first@example.nl>", **answer)
    source.add(answer_mail, RECEIVED + timedelta(hours=1))
    return one_pass(app, source)


def test_new_message_opens_ticket_with_48h_deadline_from_internaldate(app: App) -> None:
    """R-A1/R-B1: the clock starts at the server's receipt time, not the Date header."""
    source = MemorySource()
    source.add(make_mail(subject="Klacht over mijn coach", date=RECEIVED - timedelta(days=3)), RECEIVED)
    summary = one_pass(app, source)
    assert summary.as_dict() == {
        "fetched": 1,
        "tickets_opened": 1,
        "appended": 0,
        "automated": 0,
        "duplicates": 0,
        "quarantined": 0,
    }
    [ticket] = tickets(app)
    assert ticket.ref == "ORD-2026-00001"
    assert ticket.category == "complaint"
    assert ticket.status == "new"
    assert ticket.received_at == RECEIVED
    assert ticket.first_response_due == RECEIVED + timedelta(hours=48)
    assert ticket.first_responded_at is None
    assert source.messages == []  # marked done at the source only after commit


def test_gdpr_request_gets_legal_deadline(app: App) -> None:
    """R-A2: one month, same date next month (received 2 Mar → 2 Apr, a Thursday)."""
    source = MemorySource()
    source.add(make_mail(subject="Verzoek", body="Graag inzage in mijn gegevens."), RECEIVED)
    one_pass(app, source)
    [ticket] = tickets(app)
    assert ticket.category == "access"
    assert ticket.legal_due is not None
    assert ticket.legal_due.astimezone(ZoneInfo("Europe/Amsterdam")).date().isoformat() == "2026-04-02"
    assert ticket.internal_due is not None and ticket.internal_due <= ticket.legal_due


def test_same_bytes_twice_is_a_no_op(app: App) -> None:
    """Nothing doubled: a re-fetched message (crash before the move) opens no second ticket."""
    raw = make_mail(subject="Vraag")
    source = MemorySource()
    source.add(raw, RECEIVED)
    one_pass(app, source)
    source.add(raw, RECEIVED)  # the same bytes again, as after a crash between commit and move
    summary = one_pass(app, source)
    assert summary.fetched == 1 and summary.duplicates == 1 and summary.tickets_opened == 0
    assert len(tickets(app)) == 1
    assert source.messages == []


def test_same_message_id_other_bytes_is_kept_as_possible_duplicate(app: App) -> None:
    source = MemorySource()
    source.add(make_mail(subject="Vraag", message_id="<abc@example.nl>"), RECEIVED)
    source.add(
        make_mail(subject="Vraag", message_id="<abc@example.nl>", body="resent, other bytes"), RECEIVED
    )
    summary = one_pass(app, source)
    assert summary.tickets_opened == 1 and summary.duplicates == 1
    [ticket] = tickets(app)
    with open_store(app) as store:
        messages = [m for m in store.messages_of(ticket) if m.direction == "in"]
        assert [m.possible_duplicate for m in messages] == [False, True]


def test_reply_by_references_threads_onto_ticket_from_anyone(app: App) -> None:
    """R-C10: In-Reply-To/References naming a stored Message-ID is trusted, even from a colleague in Cc."""
    summary = _answer_to_first(app, "Vraag", sender="collega@example.nl", subject="Andere titel")
    assert summary.appended == 1 and summary.tickets_opened == 0
    [ticket] = tickets(app)
    with open_store(app) as store:
        assert len([m for m in store.messages_of(ticket) if m.direction == "in"]) == 2
        assert store.is_participant(ticket, "collega@example.nl")


def test_subject_reference_only_trusted_from_participants(app: App) -> None:
    """R-C10 / case 33: a ref in the subject threads for the customer; a stranger gets their own ticket."""
    source = MemorySource()
    source.add(make_mail(subject="Vraag"), RECEIVED)
    one_pass(app, source)
    ref = tickets(app)[0].ref
    source.add(make_mail(subject=f"Re: [{ref}] Vraag", body="Aanvulling"), RECEIVED + timedelta(hours=1))
    source.add(make_mail(sender="vreemde@example.org", subject=f"Re: {ref}"), RECEIVED + timedelta(hours=2))
    summary = one_pass(app, source)
    assert summary.appended == 1 and summary.tickets_opened == 1
    assert len(tickets(app)) == 2


def test_reply_to_resolved_ticket_reopens_it(app: App) -> None:
    source = MemorySource()
    source.add(make_mail(subject="Vraag", message_id="<q@example.nl>"), RECEIVED)
    one_pass(app, source)
    with open_store(app) as store:
        store.all_tickets()[0].status = "resolved"
    source.add(make_mail(subject="Re: Vraag", in_reply_to="<q@example.nl>"), RECEIVED + timedelta(days=1))
    one_pass(app, source)
    assert tickets(app)[0].status == "open"


def test_automated_mail_opens_no_ticket(app: App) -> None:
    source = MemorySource()
    source.add(make_mail(subject="Afwezig", headers={"Auto-Submitted": "auto-replied"}), RECEIVED)
    summary = one_pass(app, source)
    assert summary.automated == 1 and summary.tickets_opened == 0
    assert tickets(app) == []
    with open_store(app) as store:
        assert len(store.automated_messages()) == 1


def test_mail_only_the_model_calls_machine_mail_reaches_staff_for_triage_unanswered(app: App) -> None:
    """Issue 14: no header says it is automated, only the text model's reading. It may be a
    person's mail, so it opens a ticket marked for triage: no acknowledgement, no deadline."""
    source = MemorySource()
    source.add(make_mail(subject="Status update", body=f"Weekly report {MODEL_SAYS_MACHINE}"), RECEIVED)
    summary = one_pass(app, source)
    assert summary.tickets_opened == 1 and summary.automated == 0
    [ticket] = tickets(app)
    assert (ticket.category, ticket.triage, ticket.rule) == ("other", True, "model")
    assert ticket.first_response_due is None and ticket.legal_due is None
    with open_store(app) as store:
        kinds = {e.kind: e.detail for e in store.audit_events(ticket.id)}
        purposes = set(store.session.scalars(select(Outbox.purpose).where(Outbox.ticket_id == ticket.id)))
    assert kinds["ack.skipped"]["reason"] == "model-automated"
    assert "acknowledgement" not in purposes


def test_mail_only_the_model_calls_machine_mail_stays_on_the_ticket_it_names(app: App) -> None:
    summary = _answer_to_first(
        app, "Klacht over de factuur", subject="Re: Klacht", body=f"Updated {MODEL_SAYS_MACHINE}"
    )
    assert summary.automated == 1 and summary.tickets_opened == 0
    [ticket] = tickets(app)
    with open_store(app) as store:
        [attached] = store.automated_messages()
    assert attached.ticket_id == ticket.id


def test_poison_message_is_quarantined_and_never_blocks(app: App) -> None:
    source = MemorySource()
    source.add(b"\r\n\r\nthis is not an e-mail message at all", RECEIVED)
    source.add(make_mail(subject="Gewone vraag"), RECEIVED)
    summary = one_pass(app, source)
    assert summary.quarantined == 1 and summary.tickets_opened == 1
    with open_store(app) as store:
        [(entry, raw)] = store.quarantined()
        assert entry.attempts == app.settings.processing.max_attempts
        assert raw.state == "quarantined"
        assert store.raw_error(raw)  # the reason is kept (encrypted)
        assert store.load_raw(raw.id).raw.endswith(b"at all")  # and the bytes


def test_a_message_failing_after_its_writes_rolls_back_alone_in_its_batch(app: App, caplog) -> None:
    """Batched processing: the poisoned message's ticket, correspondence, outbox rows and audit
    events go with its savepoint; its neighbours in the same batch transaction are kept whole
    (without falling back to a transaction per message, which would hide a broken savepoint)."""
    from mailbot.adapters.db.models import Outbox
    from mailbot.services.audit import verify

    def explode(opened) -> None:  # after the acknowledgement and the staff notice were queued
        if opened.parsed.subject == "Vergiftigd":
            raise RuntimeError("a hook failed after the message's writes")

    app.processor.on_ticket_opened.append(explode)
    source = MemorySource()
    for n, subject in enumerate(["Eerste vraag", "Vergiftigd", "Derde vraag"]):
        source.add(make_mail(subject=subject, sender=f"klant{n}@example.nl"), RECEIVED)
    summary = one_pass(app, source)
    assert summary.tickets_opened == 2 and summary.quarantined == 1
    assert [t.ref for t in tickets(app)] == ["ORD-2026-00001", "ORD-2026-00002"]
    with open_store(app) as store:
        assert {store.ticket_subject(t) for t in store.all_tickets()} == {"Eerste vraag", "Derde vraag"}
        assert len(list(store.session.scalars(select(Outbox)))) == 4  # two letters per kept ticket
        assert len(list(store.session.scalars(select(Message)))) == 4  # customer's + acknowledgement
        [(entry, _raw)] = store.quarantined()
        assert entry.attempts == app.settings.processing.max_attempts
    with app.database.transaction() as uow:
        assert verify(uow).ok
    assert "batch failed, one by one instead" not in [r.getMessage() for r in caplog.records]


def test_attachments_are_stored_and_readable(app: App) -> None:
    source = MemorySource()
    source.add(
        make_mail(subject="Factuur", attachments=[("factuur.pdf", "application/pdf", b"%PDF-1.4 data")]),
        RECEIVED,
    )
    one_pass(app, source)
    [ticket] = tickets(app)
    with open_store(app) as store:
        [message] = [m for m in store.messages_of(ticket) if m.direction == "in"]
        assert store.attachments_of(message) == [("factuur.pdf", "application/pdf", b"%PDF-1.4 data")]


def test_customer_found_by_blind_index_not_plaintext(app: App) -> None:
    """R-D6: one customer for "Jan@Example.NL" and "jan@example.nl"; the address is ciphertext."""
    source = MemorySource()
    source.add(make_mail(sender="Jan@Example.NL", subject="Een"), RECEIVED)
    source.add(make_mail(sender="jan@example.nl", subject="Twee"), RECEIVED)
    one_pass(app, source)
    with open_store(app) as store:
        customers = list(store.session.scalars(select(Customer)))
        assert len(customers) == 1
        assert b"example" not in customers[0].address_enc
        assert store.customer_address(customers[0]).lower() == "jan@example.nl"


def test_ticket_numbers_are_sequential_per_year(app: App, clock) -> None:
    source = MemorySource()
    for i in range(3):
        source.add(make_mail(subject=f"Vraag {i}", sender=f"p{i}@example.nl"), RECEIVED)
    source.add(
        make_mail(subject="Nieuwjaar", sender="q@example.nl"), datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    )
    one_pass(app, source)
    refs = sorted(t.ref for t in tickets(app))
    # 31 Dec 23:30 UTC is already 1 Jan 2027 in Amsterdam: the year of opening is local.
    assert refs == ["ORD-2026-00001", "ORD-2026-00002", "ORD-2026-00003", "ORD-2027-00001"]


def test_raw_rows_are_marked_processed(app: App) -> None:
    source = MemorySource()
    source.add(make_mail(), RECEIVED)
    one_pass(app, source)
    with open_store(app) as store:
        [raw] = store.session.scalars(select(RawMessage))
        assert raw.state == "processed" and raw.outcome == "ticket_opened"
        assert store.session.scalar(select(Message.raw_message_id).where(Message.direction == "in")) == raw.id


def test_staff_reclassify_moves_deadlines_and_is_audited(app: App) -> None:
    """Issue 3: staff correct a category; the GDPR term appears (R-A2) and the audit trail says who."""
    from mailbot.domain.model import Category
    from mailbot.services.tickets import reclassify

    source = MemorySource()
    source.add(make_mail(subject="Vraag"), RECEIVED)
    one_pass(app, source)
    ref = tickets(app)[0].ref
    with open_store(app) as store:
        assert reclassify(store, ref, Category.ERASURE, app.processor.deadlines, app.clock(), "anna") == (
            "other",
            "erasure",
        )
    [ticket] = tickets(app)
    assert ticket.category == "erasure" and ticket.legal_due is not None
    with open_store(app) as store:
        events = [(e.kind, e.actor, e.detail) for e in store.audit_events(ticket.id)]
    assert ("ticket.reclassified", "anna", {"previous": "other", "category": "erasure"}) in events
    with open_store(app) as store, pytest.raises(ValueError):
        reclassify(store, ref, Category.REPLY, app.processor.deadlines, app.clock())


def test_unreadable_sender_still_gets_a_ticket_for_triage(app: App) -> None:
    """R-C13 / case 35: a From that does not parse strictly is never guessed at: ticket, triage, no ack."""
    raw = make_mail(subject="Vraag").replace(
        b"From: Jan Jansen <jan.jansen@example.nl>", b"From: jan@example.nl <jan@@broken>"
    )
    source = MemorySource()
    source.add(raw, RECEIVED)
    summary = one_pass(app, source)
    assert summary.tickets_opened == 1
    [ticket] = tickets(app)
    assert ticket.triage is True
    with open_store(app) as store:
        kinds = {e.kind: e.detail for e in store.audit_events(ticket.id)}
    assert kinds["ack.skipped"]["reason"] == "no-sender"


def test_dotless_sender_domain_gets_a_ticket_without_acknowledgement(app: App) -> None:
    """Issue 13 / R-C13: a readable message from an address no reply can go to (``jan@localhost``)
    is a ticket like any other; only the acknowledgement is skipped, with the reason recorded."""
    source = MemorySource()
    source.add(make_mail(sender="jan@localhost", subject="Klacht over de factuur"), RECEIVED)
    summary = one_pass(app, source)
    assert summary.tickets_opened == 1 and summary.quarantined == 0
    [ticket] = tickets(app)
    assert ticket.category == "complaint"
    with open_store(app) as store:
        kinds = {e.kind: e.detail for e in store.audit_events(ticket.id)}
    assert kinds["ack.skipped"]["reason"] == "unanswerable-address"
