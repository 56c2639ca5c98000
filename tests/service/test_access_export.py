"""The access export (issue 12, R-A9, R-A10) on SQLite and PostgreSQL: a customer with several
tickets, replies and attachments gets every item — fields, tickets, messages in and out, attachment
bytes, the original mails, the audit events, the art. 15 information — and nothing of another
customer, in data.json, index.html and the files of one zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailbot.adapters.db.models import AuditEvent
from mailbot.cli import main
from mailbot.services.customers import CustomerInputError
from mailbot.services.pipeline import run_pass
from mailbot.services.staff import add_note
from tests.conftest import FakeClock
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail

ANNA = "anna.wisselink@voorbeeld.nl"
BERT = "bert.oudeman@elders.nl"
PDF_1 = b"%PDF-1.4 anna-bewijsstuk-1 \x00\x01\x02"
PDF_2 = b"%PDF-1.4 anna-bewijsstuk-2 \xff\xfe"
JPG = b"\xff\xd8\xff anna-foto-3"
BERT_PDF = b"%PDF-1.4 bert-geheim-bijlage"
BERT_SECRETS = [b"Oudeman", b"oudeman", b"elders.nl", b"Beukenlaan", b"bert-geheim", b"Ravensteijn"]
ANNA_SECRETS = [
    b"Wisselink",
    b"Lindelaan",
    b"drie keer te laat",
    b"vorige week",
    b"inzage in mijn",
    b"anna-foto",
]


def _mail_in(app, source: MemorySource, clock, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    source.add(raw, clock.advance(hours=1))
    run_pass(source, app.database, app.processor, app.clock)


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock: FakeClock):  # type: ignore[no-untyped-def]
    app = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    app.customers.import_csv(
        "name,company,address,email,phone\n"
        f'Anna Wisselink,Wisselink Coaching,"Lindelaan 3, 1111 AA Hoorn",{ANNA},06-11112222\n'
        f'Bert Oudeman,Ravensteijn BV,"Beukenlaan 9, 2222 BB Breda",{BERT},06-33334444\n'
    )
    source = MemorySource()
    _mail_in(
        app,
        source,
        clock,
        make_mail(
            sender=ANNA,
            name="Anna Wisselink",
            subject="Klacht over de <script>coach</script>",
            body="De coach kwam drie keer te laat.",
            message_id="<anna-1@voorbeeld.nl>",
            attachments=[("bewijs 1.pdf", "application/pdf", PDF_1)],
        ),
    )
    _mail_in(
        app,
        source,
        clock,
        make_mail(
            sender=ANNA,
            name="Anna Wisselink",
            subject="Re: Klacht over de coach",
            body="Aanvulling: ook vorige week.",
            message_id="<anna-2@voorbeeld.nl>",
            in_reply_to="<anna-1@voorbeeld.nl>",
            references="<anna-1@voorbeeld.nl>",
            attachments=[("../../etc/passwd", "application/pdf", PDF_2)],
        ),
    )
    _mail_in(
        app,
        source,
        clock,
        make_mail(
            sender=ANNA,
            name="Anna Wisselink",
            subject="Mijn gegevens",
            body="Ik wil graag inzage in mijn gegevens.",
            message_id="<anna-3@voorbeeld.nl>",
            attachments=[("foto.jpg", "image/jpeg", JPG)],
        ),
    )
    _mail_in(
        app,
        source,
        clock,
        make_mail(
            sender=BERT,
            name="Bert Oudeman",
            subject="Klacht Ravensteijn",
            body="Bert schrijft over de Beukenlaan.",
            message_id="<bert-1@elders.nl>",
            attachments=[("bert.pdf", "application/pdf", BERT_PDF)],
        ),
    )
    # Bert answers in Anna's thread: his message lands on her ticket, but it is his data, not hers.
    _mail_in(
        app,
        source,
        clock,
        make_mail(
            sender=BERT,
            name="Bert Oudeman",
            subject="Re: Klacht over de coach",
            body="Bert schrijft vanaf de Beukenlaan mee.",
            message_id="<bert-2@elders.nl>",
            in_reply_to="<anna-1@voorbeeld.nl>",
            references="<anna-1@voorbeeld.nl>",
        ),
    )
    # A staff note on her complaint: data about her, so hers to see (sealed under her key).
    with app.database.transaction() as uow:
        anna = uow.customers.by_address(ANNA)
        assert anna is not None
        [complaint] = [t for t in uow.tickets.of_customer(anna.id) if t.category == "complaint"]
        add_note(uow, complaint, "staff@ordevos.nl", "Belde terug op 3 maart, excuses aangeboden.", clock())
    yield app
    app.close()


def _export(app, tmp_path: Path) -> tuple[dict, dict[str, bytes]]:  # type: ignore[no-untyped-def,type-arg]
    path, _ = app.customers.export(ANNA.upper(), tmp_path / "out")
    assert path.name == f"export-{app.clock():%Y-%m-%d}.zip"
    assert path.stat().st_mode & 0o077 == 0  # personal data: the owner only
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files["data.json"]), files


def test_r_a10_every_item_of_the_customer_is_in_the_export(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, files = _export(app, tmp_path)
    assert data["customer"] == {
        **data["customer"],
        "email": ANNA,
        "name": "Anna Wisselink",
        "company": "Wisselink Coaching",
        "address": "Lindelaan 3, 1111 AA Hoorn",
        "phone": "06-11112222",
    }
    tickets = {t["category"]: t for t in data["tickets"]}
    assert set(tickets) == {"complaint", "access"} and len(data["tickets"]) == 2
    complaint = tickets["complaint"]
    inbound = [m for m in complaint["messages"] if m["direction"] == "in"]
    assert [m["body"].strip() for m in inbound] == [
        "De coach kwam drie keer te laat.",
        "Aanvulling: ook vorige week.",
    ]
    assert all(m["from"] == ANNA for m in inbound) and "info@ordevos.nl" in inbound[0]["to"]
    notes = [m for m in complaint["messages"] if m["direction"] == "internal"]
    assert [n["body"] for n in notes] == ["Belde terug op 3 maart, excuses aangeboden."]
    # Messages out: the acknowledgement mailbot sent on each ticket is there, decrypted.
    for ticket in data["tickets"]:
        assert any(m["direction"] == "out" and m["body"] for m in ticket["messages"]), ticket["ref"]
    # Every attachment, byte for byte, under a name that stays in its folder.
    attached = [a for t in data["tickets"] for m in t["messages"] for a in m["attachments"]]
    assert sorted(a["filename"] for a in attached) == ["../../etc/passwd", "bewijs 1.pdf", "foto.jpg"]
    by_name = {a["filename"]: files[a["file"]] for a in attached}
    assert by_name == {"bewijs 1.pdf": PDF_1, "../../etc/passwd": PDF_2, "foto.jpg": JPG}
    assert all(a["file"].startswith("attachments/") and ".." not in a["file"] for a in attached)
    # The mails exactly as received, one per message she sent.
    originals = [files[m["file"]] for m in data["original_mail"]]
    assert len(originals) == 3 and all(b"anna-" in raw and ANNA.encode() in raw for raw in originals)
    # Audit events about her and her tickets: the import and each ticket's opening.
    kinds = [e["kind"] for e in data["audit_events"]]
    assert "customer.imported" in kinds and kinds.count("ticket.opened") == 2, kinds
    refs = {t["ref"] for t in data["tickets"]}
    assert {e["ticket"] for e in data["audit_events"] if e["ticket"]} <= refs
    assert data["sources"] == ["mail", "import"]
    # The readable part: the data, escaped, and the art. 15 information from the template.
    index = files["index.html"].decode("utf-8")
    assert "&lt;script&gt;coach&lt;/script&gt;" in index and "<script>coach" not in index
    assert "De coach kwam drie keer te laat." in index and "Lindelaan 3" in index
    assert "(interne notitie)" in index and "excuses aangeboden" in index
    for ref in refs:
        assert ref in index
    for heading in ("Doelen", "Soorten gegevens", "Ontvangers", "Bewaartermijnen", "Herkomst", "Uw rechten"):
        assert f"<h3>{heading}</h3>" in index
    assert "Autoriteit Persoonsgegevens" in index and "klantenadministratie" in index
    assert 'href="attachments/' in index


def test_r_a10_nothing_of_another_customer_is_in_the_export(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, files = _export(app, tmp_path)
    everything = b"\n".join(files.values())
    assert [s for s in BERT_SECRETS if s in everything] == []
    assert BERT_PDF not in everything
    with app.database.transaction() as uow:
        bert = uow.customers.by_address(BERT)
        assert bert is not None
        bert_refs = [t.ref for t in uow.tickets.of_customer(bert.id)]
    assert bert_refs and not any(ref.encode() in everything for ref in bert_refs)
    assert all(e["ticket"] not in bert_refs for e in data["audit_events"])


def test_r_a10_a_message_by_someone_else_on_her_ticket_is_withheld_and_is_in_his_export(
    app, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data, _ = _export(app, tmp_path)
    [complaint] = [t for t in data["tickets"] if t["category"] == "complaint"]
    assert complaint["withheld_messages"] == 1
    assert all(m["from"] != BERT for t in data["tickets"] for m in t["messages"])
    path, counts = app.customers.export(BERT, tmp_path / "bert")
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    his = json.loads(files["data.json"])
    assert [t["category"] for t in his["tickets"]] == ["complaint"]
    [reply] = his["other_messages"]
    assert reply["ticket"] == complaint["ref"] and "Beukenlaan" in reply["body"]
    assert counts["messages"] == 3 and len(his["original_mail"]) == 2
    everything = b"\n".join(files.values())
    assert [s for s in ANNA_SECRETS if s in everything] == [] and PDF_1 not in everything


def test_r_a18_the_export_is_audited_with_counts_only(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _export(app, tmp_path)
    with app.engine.connect() as connection:
        [detail] = connection.execute(
            select(AuditEvent.detail).where(AuditEvent.kind == "customer.exported")
        ).scalars()
    counts = detail["counts"]
    assert counts["tickets"] == 2 and counts["attachments"] == 3 and counts["original_mail"] == 3
    assert "anna" not in json.dumps(detail).lower()
    # A second export the same day gets a name of its own and leaves the first in place.
    first = sorted((tmp_path / "out").glob("export-*.zip"))
    path, _ = app.customers.export(ANNA, tmp_path / "out")
    assert path not in first and len(list((tmp_path / "out").glob("export-*.zip"))) == 2
    assert not list((tmp_path / "out").glob(".export-*"))  # no temporary file left behind


def test_the_export_in_english_has_the_english_information(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, _ = app.customers.export(ANNA, tmp_path / "en", language="en")
    with zipfile.ZipFile(path) as archive:
        index = archive.read("index.html").decode("utf-8")
    assert '<html lang="en">' in index and "<h3>Retention</h3>" in index and "lodge a complaint" in index


def test_an_unknown_address_exports_nothing(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CustomerInputError, match="no customer with that e-mail address"):
        app.customers.export("niemand@voorbeeld.nl", tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_cli_export_writes_the_zip_and_an_unknown_address_is_exit_2(
    tmp_path: Path, database_url: str
) -> None:
    from tests.support.app import mailbot_env

    env = mailbot_env(tmp_path, database_url)
    (tmp_path / "k.csv").write_text(f"name,email\nAnna Wisselink,{ANNA}\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["customers", "import", str(tmp_path / "k.csv")], env=env).exit_code == 0
    result = runner.invoke(main, ["customers", "export", ANNA, "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code == 0, result.output
    assert "0 ticket(s)" in result.stdout and (tmp_path / "out").is_dir()
    [path] = list((tmp_path / "out").glob("export-*.zip"))
    with zipfile.ZipFile(path) as archive:
        assert {"data.json", "index.html"} <= set(archive.namelist())
    result = runner.invoke(
        main, ["customers", "export", "x@voorbeeld.nl", "--out", str(tmp_path / "o")], env=env
    )
    assert result.exit_code == 2 and result.stderr.strip() == "mailbot: no customer with that e-mail address"


def test_templates_check_renders_the_export_templates_and_names_a_mistake(tmp_path: Path) -> None:
    import shutil

    from mailbot.adapters.access_package import check_templates
    from tests.support.app import REPO

    assert check_templates(REPO / "mailbot" / "defaults" / "templates") == []
    copy = tmp_path / "templates"
    shutil.copytree(REPO / "mailbot" / "defaults" / "templates", copy)
    page = copy / "export" / "information.en.html"
    page.write_text(page.read_text(encoding="utf-8") + "{{ controller.nmae }}", encoding="utf-8")
    errors = check_templates(copy)
    assert len(errors) == 1 and errors[0].startswith("export (en):") and "nmae" in errors[0]
    result = CliRunner().invoke(main, ["templates", "check", "--dir", str(copy)])
    assert result.exit_code == 1 and "nmae" in result.output
