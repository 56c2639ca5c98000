"""Issue 12, erasure (R-A12, R-A13, R-D5, R-D10) on SQLite and PostgreSQL, end to end: import → mail
in → export → erase (by the ticket, verified) → export again → raw scan of the database files →
``audit verify``; what a legal duty keeps stays readable under its own key; the erasure report
reaches the person; the ledger erases them again in a restored backup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import LargeBinary, create_engine, select, text

from mailbot.adapters.crypto import key_id_of
from mailbot.adapters.db.models import Base, Customer, DataKey, Erasure, RetainedRecord
from mailbot.adapters.erasure_ledger import read_ledger
from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.bootstrap import App, build_app
from mailbot.cli import main
from mailbot.domain.retention import RetentionDuty
from mailbot.services.customers import CustomerInputError, ImportRefused
from tests.support.app import mailbot_env, make_settings
from tests.support.conversation import Conversation
from tests.support.db import PG_ADMIN_URL
from tests.support.mail import make_mail
from tests.support.services import service_unavailable
from tests.support.smtp_sink import SmtpSink

ANNA, BERT, STAFF = "anna.wisselink@voorbeeld.nl", "bert.oudeman@elders.nl", "staff@ordevos.nl"
ANNA_SECRETS = [b"Wisselink", b"Lindelaan", b"drie keer te laat", b"anna-bewijs", b"voorbeeld.nl"]
INVOICES = RetentionDuty("invoices", ("name", "company", "address"), 7, "art. 52 AWR", "imported")
CSV = (
    "name,company,address,email,phone\n"
    f'Anna Wisselink,Wisselink Coaching,"Lindelaan 3, 1111 AA Hoorn",{ANNA},06-11112222\n'
    f'Bert Oudeman,Ravensteijn BV,"Beukenlaan 9, 2222 BB Breda",{BERT},06-33334444\n'
)


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock, smtp_sink: SmtpSink) -> Iterator[App]:  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        database_url,
        MAILBOT_STAFF__ADDRESSES=STAFF,
        MAILBOT_PRIVACY__RECIPIENTS="hosting (TransIP),nieuwsbrief (Laposta)",
    )
    settings = settings.model_copy(
        update={"privacy": settings.privacy.model_copy(update={"retention": (INVOICES,)})}
    )
    application = build_app(
        settings, clock=clock, mailer=SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5)
    )
    application.customers.import_csv(CSV)
    yield application
    application.close()


@pytest.fixture
def talk(app: App, smtp_sink: SmtpSink) -> Conversation:
    return Conversation(app, smtp_sink)


def body(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def correspond(talk: Conversation) -> str:
    """Anna complains (with an attachment) and asks for erasure; Bert writes too. The erasure ref."""
    talk.deliver(
        make_mail(
            sender=ANNA,
            name="Anna Wisselink",
            subject="Klacht over de coach",
            body="De coach kwam drie keer te laat.",
            attachments=[("bewijs.pdf", "application/pdf", b"%PDF-1.4 anna-bewijs")],
        )
    )
    talk.deliver(make_mail(sender=BERT, name="Bert Oudeman", subject="Vraag", body="Bert vraagt iets."))
    talk.deliver(
        make_mail(
            sender=ANNA,
            name="Anna Wisselink",
            subject="Verzoek tot verwijdering",
            body="Ik wil dat u al mijn persoonsgegevens verwijdert (recht op vergetelheid).",
        )
    )
    talk.send()
    with talk.app.database.transaction() as uow:
        anna = uow.customers.by_address(ANNA)
        assert anna is not None
        [ticket] = [t for t in uow.tickets.of_customer(anna.id) if t.category == "erasure"]
        return ticket.ref


def data_key_of(app: App, email: str) -> tuple[int, bytes]:
    with app.database.transaction() as uow:
        customer = uow.customers.by_address(email)
        assert customer is not None
        customer_id = customer.id
    with app.engine.connect() as connection:
        key_id = connection.execute(
            select(Customer.data_key_id).where(Customer.id == customer_id)
        ).scalar_one()
        wrapped = connection.execute(select(DataKey.wrapped).where(DataKey.id == key_id)).scalar_one()
    return key_id, wrapped


def sealed_values(app: App) -> list[tuple[str, bytes]]:
    """Every non-empty sealed value in every table: (table.column, ciphertext)."""
    found = []
    with app.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for column in table.c:
                if isinstance(column.type, LargeBinary) and table.name != "data_keys":
                    for (value,) in connection.execute(select(column).where(column.is_not(None))):
                        if value:
                            found.append((f"{table.name}.{column.name}", bytes(value)))
    return found


def database_files(app: App, database_url: str) -> bytes:
    """The raw bytes of the database as stored on disk (SQLite file and WAL; PostgreSQL's files of
    this database after a checkpoint)."""
    if database_url.startswith("sqlite"):
        path = Path(app.engine.url.database or "")
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    with app.engine.connect() as connection:
        name = connection.execute(text("SELECT current_database()")).scalar_one()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CHECKPOINT"))
        data_dir = connection.execute(text("SELECT current_setting('data_directory')")).scalar_one()
        oid = connection.execute(
            text("SELECT oid FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar_one()
    admin.dispose()
    base = Path(data_dir) / "base" / str(oid)
    try:
        return b"".join(p.read_bytes() for p in sorted(base.iterdir()) if p.is_file())
    except PermissionError as exc:
        service_unavailable("PostgreSQL data files", f"cannot read {base}: {exc.strerror}")
        raise AssertionError from exc


def test_r_a12_r_d5_import_mail_export_erase_export_scan_verify(
    app: App, talk: Conversation, tmp_path: Path, database_url: str
) -> None:
    ref = correspond(talk)
    _, counts = app.customers.export(ANNA, tmp_path / "before")
    assert counts["messages"] >= 2 and counts["attachments"] == 1
    key_id, wrapped = data_key_of(app, ANNA)
    assert wrapped and any(key_id_of(v) == key_id for _, v in sealed_values(app))
    assert wrapped in database_files(app, database_url)  # the scan can see a key that is there

    with pytest.raises(ValueError, match="verify"):
        app.staff.fulfil(ref, STAFF)  # R-A7: not before the identity is established
    app.staff.verify(ref, "teruggebeld op het bekende nummer", STAFF)
    done = app.staff.fulfil(ref, STAFF)
    assert done == "erased (kept: invoices)"

    # No query or export yields her data; no ciphertext under her key is left; the key is gone.
    with pytest.raises(CustomerInputError, match="no customer"):
        app.customers.export(ANNA, tmp_path / "after")
    with pytest.raises(CustomerInputError):
        app.customers.show(ANNA)
    assert [where for where, value in sealed_values(app) if key_id_of(value) == key_id] == []
    with app.engine.connect() as connection:
        assert connection.execute(select(DataKey.wrapped).where(DataKey.id == key_id)).scalar_one() is None
    raw = database_files(app, database_url)
    assert wrapped not in raw
    assert [s for s in ANNA_SECRETS if s in raw] == []

    # Bert lost nothing.
    _, bert_counts = app.customers.export(BERT, tmp_path / "bert")
    assert bert_counts["messages"] >= 1

    # The request itself stays as a minimal record; her tickets are husks without content.
    with app.database.transaction() as uow:
        ticket = uow.tickets.by_ref(ref)
        assert ticket is not None and ticket.status == "resolved" and ticket.answered_at is not None
        assert uow.tickets.subject(ticket) == "" and uow.messages.of_ticket(ticket.id) == []
        assert all(t.status in ("closed", "resolved") for t in uow.tickets.of_customer(ticket.customer_id))
    with app.engine.connect() as connection:
        record = connection.execute(select(Erasure)).one()
        assert (record.reference, record.outcome) == (ref, "erased-retained")

    # What the fiscal duty keeps is readable under its own retention key, and only that (R-A12).
    with app.database.transaction() as uow:
        row = uow.session.scalars(select(RetainedRecord)).one()  # type: ignore[attr-defined]
        fields = uow.erasures.open_text(row.fields_enc, "retained_records", "fields", row.id, "retention")  # type: ignore[attr-defined]
    assert json.loads(fields) == {
        "address": "Lindelaan 3, 1111 AA Hoorn",
        "company": "Wisselink Coaching",
        "name": "Anna Wisselink",
    }

    # The erasure report reaches her, sealed apart from her destroyed key.
    [report] = talk.to(ANNA, talk.send())
    letter = body(report)
    assert ref in str(report["Subject"])
    assert "verwijderd" in letter and "invoices" in letter and "Autoriteit Persoonsgegevens" in letter
    assert "17, lid 3" in letter and "back-up" in letter

    # R-A13: every recipient of the data owes a notice of the erasure.
    assert sorted(t.recipient for t in app.rights.tasks() if t.action == "erased") == [
        "hosting (TransIP)",
        "nieuwsbrief (Laposta)",
    ]
    # The ledger holds keyed hashes only, beside the keys.
    ledger = app.settings.privacy.erasure_ledger
    assert ledger is not None and ledger.parent == app.settings.storage.key_file.parent
    assert ledger.stat().st_mode & 0o077 == 0
    assert not any(s in ledger.read_bytes() for s in ANNA_SECRETS)
    assert [e.data_key_id for e in read_ledger(ledger)] == [key_id]
    report_audit = app.audit.verify()
    assert report_audit.ok, report_audit


def test_r_a12_the_retention_purge_destroys_what_was_kept_when_the_term_ends(
    app: App, talk: Conversation, clock
) -> None:  # type: ignore[no-untyped-def]
    correspond(talk)
    app.erasure.erase(ANNA, STAFF)
    assert app.erasure.purge() == {"retained": 0, "letters": 0, "tickets": 0}
    clock.now = clock.now + timedelta(days=7 * 366)
    assert app.erasure.purge()["retained"] == 1
    with app.engine.connect() as connection:
        assert connection.execute(select(RetainedRecord)).all() == []
        assert (
            connection.execute(
                select(DataKey.id).where(DataKey.owner == "retention", DataKey.wrapped.is_not(None))
            ).all()
            == []
        )


def test_the_sent_erasure_report_is_destroyed_after_two_weeks(app: App, talk: Conversation, clock) -> None:  # type: ignore[no-untyped-def]
    ref = correspond(talk)
    app.staff.verify(ref, "teruggebeld", STAFF)
    app.staff.fulfil(ref, STAFF)
    assert len(talk.to(ANNA, talk.send())) == 1
    with app.engine.connect() as connection:
        [(transient,)] = connection.execute(
            select(DataKey.id).where(DataKey.owner == "transient", DataKey.wrapped.is_not(None))
        ).all()
    clock.now = clock.now + timedelta(days=15)
    assert app.erasure.purge()["letters"] == 1
    with app.engine.connect() as connection:
        assert connection.execute(select(DataKey.wrapped).where(DataKey.id == transient)).scalar_one() is None
    assert [w for w, v in sealed_values(app) if key_id_of(v) == transient] == []


def test_an_erased_person_is_not_brought_back_by_an_import_but_may_write_again(
    app: App, talk: Conversation
) -> None:
    correspond(talk)
    app.erasure.erase(ANNA, STAFF)
    with pytest.raises(ImportRefused) as refused:
        app.customers.import_csv(CSV)
    assert refused.value.problems == ["row 2: this customer was erased; an import does not bring them back"]
    with pytest.raises(CustomerInputError, match="no customer"):
        app.erasure.erase(ANNA, STAFF)
    # Writing again is new data from a person who chose to write: a new customer, a new key.
    talk.deliver(make_mail(sender=ANNA, name="Anna", subject="Nieuwe vraag", body="Wanneer start de cursus?"))
    assert app.customers.show(ANNA).customer.name == "Anna"


def test_r_d10_a_restored_backup_erases_again_who_was_erased_after_it(tmp_path: Path) -> None:
    """On SQLite (restoring into an empty PostgreSQL database is proven by test_backup; the ledger
    re-application above it is the same code on both)."""
    env = mailbot_env(tmp_path, f"sqlite:///{tmp_path / 'storage' / 'mailbot.db'}")
    runner = CliRunner()

    def run(environment: dict[str, str], *args: str, stdin: str | None = None) -> str:
        result = runner.invoke(main, list(args), env=environment, input=stdin, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    csv_file = tmp_path / "klanten.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    run(env, "customers", "import", str(csv_file))
    run(env, "backup", "create", "--no-offsite")
    [folder] = sorted((tmp_path / "storage" / "backups").glob("mailbot-*"))
    out = run(env, "customers", "erase", ANNA, "--yes")
    assert out.startswith("erased") and "data key is destroyed" in out
    restored = {**env, "MAILBOT_STORAGE__DATABASE_URL": f"sqlite:///{tmp_path / 'restored.db'}"}
    out = run(restored, "backup", "restore", str(folder))
    assert "erasures re-applied: 1" in out
    refused = runner.invoke(main, ["customers", "show", ANNA], env=restored)
    assert refused.exit_code == 2 and "no customer" in refused.output
    assert json.loads(run(restored, "customers", "show", BERT, "--json"))["name"] == "Bert Oudeman"


def test_customers_erase_asks_first_and_erases_nothing_on_no(tmp_path: Path, database_url: str) -> None:
    env = mailbot_env(tmp_path, database_url)
    csv_file = tmp_path / "klanten.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["customers", "import", str(csv_file)], env=env).exit_code == 0
    declined = runner.invoke(main, ["customers", "erase", ANNA], env=env, input="n\n")
    assert declined.exit_code == 1 and "nothing erased" in declined.output
    assert runner.invoke(main, ["customers", "show", ANNA], env=env).exit_code == 0
    unknown = runner.invoke(main, ["customers", "erase", "niemand@example.nl", "--yes"], env=env)
    assert (
        unknown.exit_code == 2 and unknown.output.strip() == "mailbot: no customer with that e-mail address"
    )


def test_closed_tickets_lose_their_correspondence_after_their_term_unless_held(
    app: App, talk: Conversation, clock
) -> None:  # type: ignore[no-untyped-def]
    """Issue 16 retention: complaints 12 months after closing (R-B2), others 24; a legal hold keeps
    one until released; the husk (reference, category, dates) stays."""
    correspond(talk)
    with app.database.transaction() as uow:
        refs = {t.category: t.ref for t in uow.tickets.list()}
    complaint, other = refs["complaint"], refs["other"]
    for ref in (complaint, other):
        app.staff.status(ref, "closed", STAFF)
    assert app.erasure.hold(other, "geschil over de factuur", STAFF) is True
    with pytest.raises(ValueError, match="say why"):
        app.erasure.hold(complaint, " ", STAFF)
    clock.now = clock.now + timedelta(days=370)
    assert app.erasure.purge()["tickets"] == 1  # the complaint; the other is held and not yet due
    with app.database.transaction() as uow:
        purged = uow.tickets.by_ref(complaint)
        assert purged is not None and purged.purged_at is not None and purged.category == "complaint"
        assert uow.messages.of_ticket(purged.id) == [] and uow.tickets.subject(purged) == ""
        kept = uow.tickets.by_ref(other)
        assert kept is not None and uow.messages.of_ticket(kept.id) != []
    clock.now = clock.now + timedelta(days=400)
    assert app.erasure.purge()["tickets"] == 0  # held
    assert app.erasure.hold(other, "", STAFF, hold=False) is True
    assert app.erasure.purge()["tickets"] == 1
    assert app.audit.verify().ok
