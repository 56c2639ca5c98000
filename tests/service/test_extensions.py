"""Issue 5 / R-A5: extending a GDPR request's legal term, with the notice to the requester.

Case 8 (domain-rules): receipt 31 January 2026 → first term ends Sat 28 Feb → Mon 2 March (R-A3);
extended by two months → 30 April, with the conservative reading 28 April shown beside it; an
extension decided on 3 March is blocked, as is one without a reason.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailbot.adapters.db.models import Extension, Outbox
from mailbot.bootstrap import App
from mailbot.services.extensions import ExtensionRefused, extend_ticket
from mailbot.services.pipeline import run_pass
from tests.support.app import make_app
from tests.support.fakes import MemorySource, keyword_classifier
from tests.support.mail import make_mail
from tests.support.store import open_store

AMS = ZoneInfo("Europe/Amsterdam")
# The requester's identity is not in question in these tests: our border server's DMARC pass
# verifies it at once (issue 11), so no identity challenge pauses the clock by itself.
VERIFIED_BY_DMARC = {
    "MAILBOT_IDENTITY__TRUST_DMARC": "true",
    "MAILBOT_IDENTITY__AUTHSERV_ID": "mx.ordevos.nl",
}
DMARC_PASS = {"Authentication-Results": "mx.ordevos.nl; dmarc=pass header.from=example.nl"}
RECEIVED = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)  # Saturday 31 January, 10:00 Amsterdam
REASON = "Uw verzoek betreft gegevens uit vier systemen en zes trainingsjaren."


@pytest.fixture
def app(tmp_path: Path, database_url: str, clock) -> Iterator[App]:
    clock.now = RECEIVED
    application = make_app(tmp_path, database_url, clock, classifier=keyword_classifier, **VERIFIED_BY_DMARC)
    yield application
    application.close()


def open_request(app: App, body: str = "Graag inzage in mijn gegevens.") -> str:
    source = MemorySource()
    mail = make_mail(
        subject="Verzoek", body=body, sender="anna@example.nl", name="Anna Smit", headers=DMARC_PASS
    )
    source.add(mail, RECEIVED)
    run_pass(source, app.database, app.processor, app.clock)
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        return ticket.ref


def extend(app: App, ref: str, months: int, reason: str):  # type: ignore[no-untyped-def]
    with open_store(app) as store:
        return extend_ticket(
            store,
            ref,
            months,
            reason,
            app.clock(),
            renderer=app.renderer,
            policy=app.outbox_policy,
            calendar=app.work_calendar,
            deadline_policy=app.deadline_policy,
        )


def local_day(moment: datetime) -> date:
    return moment.astimezone(AMS).date()


def notices(app: App) -> list[Outbox]:
    with open_store(app) as store:
        rows = list(store.session.scalars(select(Outbox).where(Outbox.purpose == "extension_notice")))
        for row in rows:
            store.session.expunge(row)
        return rows


def test_extension_within_the_first_month_moves_the_legal_due_and_notifies(app: App, clock) -> None:
    """R-A5 / case 8: extended by two months → 30 April (conservative 28 April); the requester gets
    the notice with the reason; the reason is stored sealed; the ladder re-arms on the new date."""
    ref = open_request(app)
    with open_store(app) as store:
        ticket = store.ticket_by_ref(ref)
        assert ticket is not None and ticket.legal_due is not None
        assert local_day(ticket.legal_due) == date(2026, 3, 2)  # R-A2/A3: 28 Feb is a Saturday
    clock.now = datetime(2026, 2, 20, 10, 0, tzinfo=UTC)
    result = extend(app, ref, 2, REASON)
    assert local_day(result.original_due) == date(2026, 3, 2)
    assert local_day(result.legal_due) == date(2026, 4, 30)
    assert result.legal_due_conservative is not None
    assert local_day(result.legal_due_conservative) == date(2026, 4, 28)
    assert result.total_extra_months == 2
    with open_store(app) as store:
        ticket = store.ticket_by_ref(ref)
        assert ticket is not None and ticket.legal_due == result.legal_due
        [row] = store.session.scalars(select(Extension))
        assert REASON.encode() not in row.reason_enc  # sealed at rest
        assert store.extension_reason(row, ticket.customer_id) == REASON
        kinds = [e.kind for e in store.audit_events(ticket.id)]
        assert "ticket.extended" in kinds
        assert not any(REASON in str(e.detail) for e in store.audit_events(ticket.id))
    app.drain_outbox()
    [notice] = notices(app)
    assert notice.status == "sent" and notice.customer_id is not None
    with open_store(app) as store:
        where = ("outbox", "payload", notice.id, notice.customer_id)
        raw = store.vault.open(store.session, store.session.get(Outbox, notice.id).payload_enc, where)
    assert raw is not None
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "anna@example.nl"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert f"[{ref}]" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert REASON in body
    assert "30 april 2026" in body and "2 maart 2026" in body
    assert "Autoriteit Persoonsgegevens" in body


def test_extension_after_the_first_term_is_refused(app: App, clock) -> None:
    """R-A5 / case 8: receipt 31 Jan, first term ends 2 March; on 3 March the extension is blocked
    and nothing is stored or sent."""
    ref = open_request(app)
    clock.now = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    with pytest.raises(ExtensionRefused, match="first term"):
        extend(app, ref, 1, REASON)
    assert notices(app) == []
    with open_store(app) as store:
        assert list(store.session.scalars(select(Extension))) == []
        ticket = store.ticket_by_ref(ref)
        assert ticket is not None and local_day(ticket.legal_due) == date(2026, 3, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", ["", "   "])
def test_extension_without_a_reason_is_refused(app: App, clock, reason: str) -> None:
    """R-A5: the requester must be told the reason, so no reason → no extension."""
    ref = open_request(app)
    clock.now = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
    with pytest.raises(ExtensionRefused, match="reason"):
        extend(app, ref, 1, reason)
    assert notices(app) == []


def test_extension_beyond_two_further_months_is_refused(app: App, clock) -> None:
    """R-A5: one month, then two more → refused (three months in total at most); the first stands."""
    ref = open_request(app)
    clock.now = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
    first = extend(app, ref, 1, REASON)
    assert local_day(first.legal_due) == date(2026, 3, 31)
    with pytest.raises(ExtensionRefused, match="at most 2"):
        extend(app, ref, 2, REASON)
    second = extend(app, ref, 1, "Nog een systeem gevonden.")
    assert local_day(second.legal_due) == date(2026, 4, 30)
    with pytest.raises(ExtensionRefused):
        extend(app, ref, 1, REASON)
    assert len(notices(app)) == 2


def test_complaint_has_no_legal_term_to_extend(app: App, clock) -> None:
    """Issue 5: only GDPR requests have a legal term (a complaint's terms are the company's)."""
    source = MemorySource()
    source.add(make_mail(subject="Klacht over de coach"), RECEIVED)
    run_pass(source, app.database, app.processor, app.clock)
    with open_store(app) as store:
        [ticket] = store.all_tickets()
        ref = ticket.ref
    with pytest.raises(ExtensionRefused):
        extend(app, ref, 1, REASON)
    with pytest.raises(LookupError):
        extend(app, "ORD-2026-99999", 1, REASON)
