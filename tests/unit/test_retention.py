"""The pure rules of what an erasure keeps (R-A12) and the erasure ledger file (R-D10)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailbot.adapters.erasure_ledger import FileErasureLedger, read_ledger
from mailbot.domain.retention import LedgerEntry, RetentionDuty, add_years, backups_gone_by, what_to_keep

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
INVOICES = RetentionDuty("invoices", ("name", "company", "address"), 7, "art. 52 AWR")
VALUES = {"email": "a@b.nl", "name": "Anna", "company": "", "address": "Lindelaan 3", "phone": "06"}


def test_r_a12_an_imported_customer_keeps_the_duty_fields_with_a_value_only() -> None:
    [kept] = what_to_keep([INVOICES], "import", VALUES, NOW)
    assert dict(kept.values) == {"name": "Anna", "address": "Lindelaan 3"}  # company was empty
    assert kept.until == datetime(2033, 12, 6, 10, 0, tzinfo=UTC)


def test_a_customer_only_known_from_mail_has_no_invoices_to_keep() -> None:
    assert what_to_keep([INVOICES], "mail", VALUES, NOW) == []
    everyone = RetentionDuty("claims", ("email",), 2, "art. 3:307 BW", applies_to="all")
    assert [dict(k.values) for k in what_to_keep([everyone], "mail", VALUES, NOW)] == [{"email": "a@b.nl"}]


def test_a_duty_names_only_known_fields_and_sane_terms() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        RetentionDuty("x", ("iban",), 7, "")
    with pytest.raises(ValueError, match="years"):
        RetentionDuty("x", ("name",), 0, "")
    with pytest.raises(ValueError, match="applies_to"):
        RetentionDuty("x", ("name",), 7, "", applies_to="some")


def test_add_years_and_the_backup_horizon() -> None:
    assert add_years(datetime(2028, 2, 29, tzinfo=UTC), 1) == datetime(2029, 2, 28, tzinfo=UTC)
    assert backups_gone_by(NOW, 7, 4).date().isoformat() == "2027-01-11"


def entry(n: int) -> LedgerEntry:
    return LedgerEntry(f"e{n}", NOW, "a" * 64, "c" * 64, n)


def test_r_d10_the_ledger_survives_a_torn_line_and_keeps_its_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "erasure-ledger.jsonl"
    ledger = FileErasureLedger(path)
    ledger.append(entry(1))
    with path.open("a", encoding="ascii") as handle:
        handle.write('{"erasure_id": "torn", "at"')  # a crash mid-append
    ledger.append(entry(2))
    assert [e.data_key_id for e in read_ledger(path)] == [1, 2]
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_ledger(tmp_path / "absent.jsonl") == []


def test_ticket_retention_terms_per_category_and_month_arithmetic() -> None:
    from mailbot.domain.retention import TicketRetention, add_months

    assert add_months(datetime(2026, 3, 31, tzinfo=UTC), -1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2027, 2, 15, tzinfo=UTC)
    terms = TicketRetention(complaint_months=12, other_months=24)
    closed = datetime(2025, 12, 1, tzinfo=UTC)
    assert terms.is_due("complaint", closed, False, NOW)
    assert not terms.is_due("complaint", closed, True, NOW)  # legal hold
    assert not terms.is_due("access", closed, False, NOW)
    assert terms.earliest_cutoff(NOW) == datetime(2025, 12, 6, 10, 0, tzinfo=UTC)
