"""``mailbot customers import/show/update`` on real storage (issue 12, R-A11, R-A18, R-D1, R-D6).

Import: every row checked before the first write, one line per bad row that never repeats a value,
nothing imported when any row is bad (exit 2); fields sealed under the customer's own key; an
address already known (any spelling) updates that customer. Rectification overwrites, and the
audit trail names fields, never values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mailbot.adapters.db.models import AuditEvent, Customer
from mailbot.cli import main
from mailbot.services.pipeline import run_pass
from tests.conftest import FakeClock
from tests.service.test_encryption_at_rest import _database_bytes
from tests.support.app import mailbot_env, make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail

HEADER = "name,company,address,email,phone\n"
JAN = (
    'Jan Quirijnsen,Zonnebloem Coaching BV,"Dorpsstraat 17, 9999 ZZ Oosterwolde",'
    "jan.q@voorbeeld.nl,+31 6 1234 5678\n"
)
PIET = "Piet Hendriksma,,,piet.h@voorbeeld.nl,\n"
VALUES = [b"Quirijnsen", b"Zonnebloem", b"Dorpsstraat", b"Oosterwolde", b"1234 5678", b"jan.q@voorbeeld"]


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return mailbot_env(tmp_path, database_url)


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _csv(tmp_path: Path, text: str, name: str = "klanten.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _count(database_url: str, model: type) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        n = connection.execute(select(func.count()).select_from(model)).scalar_one()
    engine.dispose()
    return int(n)


def _events(database_url: str) -> list[tuple[str, str | None, dict]]:  # type: ignore[type-arg]
    from sqlalchemy import create_engine

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEvent.kind, AuditEvent.customer_id, AuditEvent.detail).order_by(AuditEvent.seq)
        ).all()
    engine.dispose()
    return [(r[0], r[1], dict(r[2] or {})) for r in rows]


def _engine(database_url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))


def _sealed_name_and_phone(database_url: str) -> tuple[bytes, bytes]:
    engine = _engine(database_url)
    with engine.connect() as connection:
        row = connection.execute(select(Customer.name_enc, Customer.phone_enc)).one()
    engine.dispose()
    return bytes(row[0]), bytes(row[1])


def _live_rows(database_url: str) -> bytes:
    """Every value of every live row (not the files: free pages are the engine's business)."""
    from sqlalchemy import inspect, text

    engine = _engine(database_url)
    chunks: list[bytes] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                chunks.extend(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row)
    engine.dispose()
    return b"\n".join(chunks)


def test_import_seals_every_field_and_show_opens_them(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    code, out, err = run(env, "customers", "import", _csv(tmp_path, HEADER + JAN + PIET))
    assert code == 0, err
    assert "2 created, 0 updated" in out
    code, out, _ = run(env, "customers", "show", "Jan.Q@Voorbeeld.nl", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["name"] == "Jan Quirijnsen"
    assert shown["company"] == "Zonnebloem Coaching BV"
    assert shown["address"] == "Dorpsstraat 17, 9999 ZZ Oosterwolde"
    assert shown["phone"] == "+31 6 1234 5678"
    assert shown["source"] == "import" and shown["tickets"] == []
    dump = _database_bytes(database_url)
    assert len(dump) > 500
    assert [v for v in VALUES if v.lower() in dump.lower()] == []  # R-D1: sealed, not in the clear


def test_a_bad_row_imports_nothing_and_each_bad_row_is_one_line_without_its_value(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    text = (
        HEADER
        + JAN
        + "Kees Geheimnaam,,,kees-at-voorbeeld.nl,\n"  # row 3: no valid address
        + "Anna,,,anna@voorbeeld.nl,telefoon-07734\n"  # row 4: no phone number
        + PIET
        + "Jan Tweede,,,JAN.Q@voorbeeld.nl,\n"  # row 6: the address of row 2 again
        + "te,veel,velden,x@voorbeeld.nl,1,2\n"  # row 7: six fields
    )
    code, _, err = run(env, "customers", "import", _csv(tmp_path, text))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[:-1] == [
        "mailbot: klanten.csv: row 3: email is not a valid e-mail address",
        "mailbot: klanten.csv: row 4: phone is not a phone number "
        "(digits, spaces, +, -, parentheses; at least 6 digits)",
        "mailbot: klanten.csv: row 6: same email as row 2",
        "mailbot: klanten.csv: row 7: has 6 fields, the header has 5",
    ]
    assert lines[-1] == "mailbot: 4 bad row(s); nothing was imported"
    for secret in ("kees-at", "telefoon-07734", "Geheimnaam", "JAN.Q", "Error", "Exception"):
        assert secret not in err
    assert _count(database_url, Customer) == 0  # not even the good rows
    assert _events(database_url) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file has no header row"),
        ("naam,email\nJan,jan@voorbeeld.nl\n", "row 1: unknown column(s) naam"),
        ("name,phone\nJan,0612345678\n", "row 1: the header has no email column"),
        (HEADER, "the file has a header but no customer rows"),
    ],
)
def test_a_file_without_a_usable_header_is_refused(
    env: dict[str, str], tmp_path: Path, text: str, expected: str
) -> None:
    code, _, err = run(env, "customers", "import", _csv(tmp_path, text))
    assert code == 2
    assert expected in err
    assert "Traceback" not in err


def test_a_semicolon_file_with_a_bom_from_a_dutch_spreadsheet_is_read(
    env: dict[str, str], tmp_path: Path
) -> None:
    text = (
        "\ufeffName;Company;Address;Email;Phone\r\n"
        "Jan Quirijnsen;;Dorpsstraat 17;jan.q@voorbeeld.nl;06-12345678\r\n"
    )
    code, _, err = run(env, "customers", "import", _csv(tmp_path, text))
    assert code == 0, err
    _, shown, _ = run(env, "customers", "show", "jan.q@voorbeeld.nl", "--json")
    assert json.loads(shown)["phone"] == "06-12345678"


def test_an_existing_customer_is_updated_not_duplicated_and_keeps_their_tickets(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    """R-D6: the customer first seen by mail (another spelling of the address) is the one updated."""
    app = make_app(tmp_path, database_url, clock, classifier=keyword_classifier)
    try:
        source = MemorySource()
        source.add(
            make_mail(sender="Jan.Q@Voorbeeld.NL", name="J. Q.", subject="Klacht over de training"),
            datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        )
        assert run_pass(source, app.database, app.processor, app.clock).tickets_opened == 1
        before = app.customers.show("jan.q@voorbeeld.nl")
        report = app.customers.import_csv(HEADER + JAN + PIET)
        assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
        after = app.customers.show("jan.q@voorbeeld.nl")
        assert after.customer.id == before.customer.id
        assert after.customer.name == "Jan Quirijnsen" and after.customer.phone == "+31 6 1234 5678"
        assert after.customer.source == "mail"  # first seen writing to us
        assert [t.ref for t in after.tickets] == [t.ref for t in before.tickets] and len(after.tickets) == 1
        assert _count(database_url, Customer) == 2
        # The same file again changes nothing, and says so.
        again = app.customers.import_csv(HEADER + JAN + PIET)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        # An empty cell keeps the stored value: the phone is still there after a row without one.
        app.customers.import_csv(HEADER + "Jan Quirijnsen,,,jan.q@voorbeeld.nl,\n")
        assert app.customers.show("jan.q@voorbeeld.nl").customer.phone == "+31 6 1234 5678"
    finally:
        app.close()


def test_r_a18_every_imported_customer_has_an_event_without_personal_data(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    run(env, "customers", "import", _csv(tmp_path, HEADER + JAN + PIET))
    run(env, "customers", "import", _csv(tmp_path, HEADER + JAN.replace("+31 6 1234 5678", "0201234567")))
    events = [e for e in _events(database_url) if e[0] == "customer.imported"]
    assert len(events) == 3 and all(e[1] for e in events)
    assert [e[2]["action"] for e in events] == ["created", "created", "updated"]
    assert events[0][2]["fields"] == ["address", "company", "name", "phone"]
    assert events[2][2]["fields"] == ["phone"]
    trail = json.dumps([e[2] for e in events]).lower()
    for value in ("quirijnsen", "zonnebloem", "dorpsstraat", "5678", "0201234567", "voorbeeld"):
        assert value not in trail
    assert run(env, "audit", "verify")[0] == 0


def test_r_a11_rectification_overwrites_and_audits_the_field_names_only(
    env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    run(env, "customers", "import", _csv(tmp_path, HEADER + JAN))
    old_name, old_phone = _sealed_name_and_phone(database_url)
    code, out, err = run(
        env, "customers", "update", "jan.q@voorbeeld.nl", "--name", "Jan Quirijnsen-Bakker", "--phone", ""
    )
    assert code == 0, err
    assert out.strip() == "rectified: name, phone"
    _, shown, _ = run(env, "customers", "show", "jan.q@voorbeeld.nl", "--json")
    data = json.loads(shown)
    assert data["name"] == "Jan Quirijnsen-Bakker" and data["phone"] == ""
    assert data["company"] == "Zonnebloem Coaching BV"  # untouched fields stay
    [event] = [e for e in _events(database_url) if e[0] == "customer.rectified"]
    assert event[2] == {"fields": ["name", "phone"]}
    # The old values' ciphertexts are in no live row any more: sealed over, not versioned.
    live = _live_rows(database_url)
    assert old_name and old_phone
    assert old_name not in live and old_phone not in live
    app_code, text, _ = run(env, "customers", "show", "jan.q@voorbeeld.nl")
    assert app_code == 0 and "1234 5678" not in text and "Jan Quirijnsen-Bakker" in text


@pytest.mark.parametrize(
    "args",
    [
        ("customers", "show", "niemand@voorbeeld.nl"),
        ("customers", "update", "niemand@voorbeeld.nl", "--name", "X"),
    ],
)
def test_an_unknown_address_is_one_line_and_exit_2(env: dict[str, str], args: tuple[str, ...]) -> None:
    code, out, err = run(env, *args)
    assert code == 2
    assert err.strip() == "mailbot: no customer with that e-mail address"
    assert "niemand" not in err and out == ""


def test_an_invalid_rectification_changes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "customers", "import", _csv(tmp_path, HEADER + JAN))
    code, _, err = run(
        env, "customers", "update", "jan.q@voorbeeld.nl", "--name", "Nieuw", "--phone", "bel me"
    )
    assert code == 2 and err.strip().startswith("mailbot: phone is not a phone number")
    _, shown, _ = run(env, "customers", "show", "jan.q@voorbeeld.nl", "--json")
    assert json.loads(shown)["name"] == "Jan Quirijnsen"
    code, _, err = run(env, "customers", "update", "jan.q@voorbeeld.nl")
    assert code == 2 and "nothing to change" in err


def test_show_lists_the_tickets_with_category_and_status_after_mail_came_in(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The command-line sequence: import → mail in (Maildir, fetch --once) → show → export."""
    from mailbot.adapters.maildir import ensure_maildir
    from mailbot.adapters.maildir_sender import deliver_to_maildir

    run(env, "customers", "import", _csv(tmp_path, HEADER + JAN))
    inbox = tmp_path / "storage" / "inbox"
    ensure_maildir(inbox)
    deliver_to_maildir(inbox, make_mail(sender="jan.q@voorbeeld.nl", subject="Klacht over de coach"))
    code, _, err = run(env, "fetch", "--once", "--json")
    assert code == 0, err
    code, out, _ = run(env, "customers", "show", "jan.q@voorbeeld.nl")
    assert code == 0
    lines = out.splitlines()
    header = lines.index("tickets:") + 1
    assert lines[header].split() == ["REF", "CATEGORY", "STATUS", "OPENED"]  # issue 17: a header row
    [line] = lines[header + 1 :]
    ref, category, status = line.split()[0:3]
    assert ref.startswith("ORD-") and category == "complaint" and status == "new"
    assert "Zonnebloem Coaching BV" in out and "Dorpsstraat 17, 9999 ZZ Oosterwolde" in out
    code, out, err = run(env, "customers", "export", "jan.q@voorbeeld.nl", "--out", str(tmp_path / "x"))
    assert code == 0, err
    assert "1 ticket(s)" in out and "1 original mail(s)" in out
