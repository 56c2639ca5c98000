"""ImapSource against a real (private) Dovecot: the IMAP rules R-C16…R-C20 and R-A1."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from imapclient import IMAPClient

from mailbot.adapters.imap import (
    PROCESSED_KEYWORD,
    ImapSource,
    SourceError,
    is_loopback,
    parse_key,
    uid_set,
)
from mailbot.services.ports import Batch, Cursor, IncomingMessage
from tests.support.dovecot import DovecotServer

pytestmark = pytest.mark.dovecot


def message(n: int, *, date: str = "Mon, 01 Jan 2018 00:00:00 +0000", extra: str = "") -> bytes:
    return (
        f"From: Klant {n} <klant{n}@example.nl>\r\n"
        f"To: info@ordevos.nl\r\n"
        f"Subject: Vraag nummer {n}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <msg-{n}@example.nl>\r\n"
        f"{extra}"
        f"\r\n"
        f"Beste Ordevos, dit is bericht {n}.\r\n"
    ).encode()


class Recorder:
    """Which imapclient methods a source called, to prove what it did (not) send."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def client_class(self) -> type[IMAPClient]:
        calls = self.calls

        class CountingClient(IMAPClient):
            def _count(self, name: str) -> None:
                calls.append(name)

            def login(self, *a: Any, **k: Any) -> Any:
                self._count("login")
                return super().login(*a, **k)

            def select_folder(self, *a: Any, **k: Any) -> Any:
                self._count("select")
                return super().select_folder(*a, **k)

            def fetch(self, *a: Any, **k: Any) -> Any:
                self._count("fetch")
                return super().fetch(*a, **k)

            def idle(self) -> Any:
                self._count("idle")
                return super().idle()

            def move(self, *a: Any, **k: Any) -> Any:
                self._count("move")
                return super().move(*a, **k)

            def copy(self, *a: Any, **k: Any) -> Any:
                self._count("copy")
                return super().copy(*a, **k)

            def expunge(self, *a: Any, **k: Any) -> Any:
                self._count("expunge")
                return super().expunge(*a, **k)

            def uid_expunge(self, *a: Any, **k: Any) -> Any:
                self._count("uid_expunge")
                return super().uid_expunge(*a, **k)

        return CountingClient

    def count(self, name: str) -> int:
        return self.calls.count(name)


def make_source(server: DovecotServer, recorder: Recorder | None = None, **overrides: Any) -> ImapSource:
    settings: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "plain",
        "username": server.user,
        "password": server.password,
        "timeout": 10,
    }
    settings.update(overrides)
    source = ImapSource(**settings)
    if recorder is not None:
        source.client_class = recorder.client_class()
    return source


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def source(imap: DovecotServer, recorder: Recorder) -> Iterator[ImapSource]:
    src = make_source(imap, recorder)
    yield src
    src.close()


def all_messages(batches: list[Batch]) -> list[IncomingMessage]:
    return [m for batch in batches for m in batch.messages]


def uid_of(msg: IncomingMessage) -> int:
    parsed = parse_key(msg.key)
    assert parsed is not None
    return parsed[1]


# -- pure helpers ---------------------------------------------------------------------------------


def test_uid_set_compresses_runs() -> None:
    assert uid_set([5, 1, 2, 3, 9, 10, 7]) == "1:3,5,7,9:10"
    assert uid_set([4]) == "4"


def test_parse_key_round_trip_and_foreign_keys() -> None:
    assert parse_key("1795622970:42") == (1795622970, 42)
    assert parse_key("1700000000.M1P2.host") is None
    assert parse_key("x:1") is None


def test_r_c20_plain_only_to_loopback() -> None:
    """R-C20: clear text is refused for any host that could be across a network."""
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("imap.ordevos.nl") and not is_loopback("10.0.0.1")
    with pytest.raises(ValueError, match="loopback"):
        ImapSource(host="imap.ordevos.nl", port=143, security="plain", username="u", password="p")
    with pytest.raises(ValueError, match="security"):
        ImapSource(host="127.0.0.1", port=143, security="none", username="u", password="p")


def test_r_c19_idle_period_cannot_exceed_29_minutes() -> None:
    with pytest.raises(ValueError, match="29 minutes"):
        ImapSource(
            host="127.0.0.1",
            port=1,
            security="plain",
            username="u",
            password="p",
            idle_reissue_seconds=30 * 60,
        )


# -- fetching -------------------------------------------------------------------------------------


def test_r_a1_received_at_is_internaldate_not_date_header(imap: DovecotServer, source: ImapSource) -> None:
    """R-A1: the clock starts at the server's INTERNALDATE; the sender's Date: header is ignored."""
    amsterdam = timezone(timedelta(hours=1))
    arrived = datetime(2026, 3, 5, 23, 30, 15, tzinfo=amsterdam)
    imap.append(message(1, date="Tue, 01 Jan 2019 08:00:00 +0000"), internaldate=arrived)

    [msg] = all_messages(list(source.batches(Cursor())))

    assert msg.received_at == arrived
    assert msg.received_at is not None and msg.received_at.utcoffset() == timedelta(0)
    assert msg.received_at.date().isoformat() == "2026-03-05"  # 22:30 UTC, same day in UTC here


def test_r_c17_fetch_uses_peek_and_never_sets_seen(imap: DovecotServer, source: ImapSource) -> None:
    """R-C17: reading the message must not mark it read for the humans sharing the mailbox."""
    uids = [imap.append(message(n)) for n in range(3)]

    fetched = all_messages(list(source.batches(Cursor())))

    assert [uid_of(m) for m in fetched] == uids
    assert [m.raw for m in fetched] == [message(n) for n in range(3)]
    flags = imap.flags()
    assert set(flags) == set(uids)
    assert all(b"\\Seen" not in f for f in flags.values())


def test_batches_respect_batch_size_and_advance_cursor(imap: DovecotServer, recorder: Recorder) -> None:
    imap.deliver_files(message(n) for n in range(7))
    source = make_source(imap, recorder, batch_size=3)
    try:
        batches = list(source.batches(Cursor()))
    finally:
        source.close()

    assert [len(b.messages) for b in batches] == [3, 3, 1]
    validity = imap.uidvalidity()
    uids = imap.uids()
    assert [b.cursor for b in batches] == [
        Cursor(validity, uids[2]),
        Cursor(validity, uids[5]),
        Cursor(validity, uids[6]),
    ]
    assert [m.key for m in all_messages(batches)] == [f"{validity}:{uid}" for uid in uids]
    assert sorted(m.raw for m in all_messages(batches)) == sorted(message(n) for n in range(7))
    # Maildir delivery has no APPEND date: INTERNALDATE is the file's time, i.e. about now.
    assert all(abs(m.received_at - datetime.now(UTC)) < timedelta(minutes=5) for m in all_messages(batches))


def test_resumes_after_cursor_and_nothing_new_means_no_fetch(
    imap: DovecotServer, source: ImapSource, recorder: Recorder
) -> None:
    first = [imap.append(message(n)) for n in range(2)]
    batches = list(source.batches(Cursor()))
    cursor = batches[-1].cursor
    assert cursor.last_uid == first[-1]

    later = imap.append(message(9))
    again = list(source.batches(cursor))
    assert [uid_of(m) for m in all_messages(again)] == [later]

    recorder.calls.clear()
    nothing = list(source.batches(again[-1].cursor))
    assert nothing == []
    assert recorder.count("fetch") == 0 and recorder.count("select") == 0  # STATUS UIDNEXT sufficed


def test_cursor_beyond_highest_uid_yields_nothing(imap: DovecotServer, recorder: Recorder) -> None:
    """`UID n:*` matches the highest message even when it is below n: it must be filtered out."""
    kept = imap.append(message(1))
    gone = [imap.append(message(2)), imap.append(message(3))]
    other_client = imap.client()
    try:  # someone else removes the newer two: UIDNEXT is past the cursor, nothing is above it
        other_client.select_folder("INBOX")
        other_client.add_flags(gone, [b"\\Deleted"])
        other_client.uid_expunge(gone)
    finally:
        other_client.logout()
    source = make_source(imap, recorder, sweep_leftovers=False)
    try:
        got = all_messages(list(source.batches(Cursor(imap.uidvalidity(), kept))))
    finally:
        source.close()
    assert got == []
    assert recorder.count("select") == 1 and recorder.count("fetch") == 0


# -- after commit: move / flag --------------------------------------------------------------------


def test_r_c18_done_moves_with_uid_move(imap: DovecotServer, source: ImapSource, recorder: Recorder) -> None:
    """R-C18: committed messages go to the processed folder with UID MOVE where offered."""
    for n in range(3):
        imap.append(message(n))
    fetched = all_messages(list(source.batches(Cursor())))

    source.done(fetched)

    assert imap.uids("INBOX") == []
    assert len(imap.uids("Processed")) == 3
    assert recorder.count("move") == 1 and recorder.count("copy") == 0
    assert recorder.count("expunge") == 0


def test_r_c18_case_41_fallback_copy_deleted_uid_expunge_spares_others_deleted_mail(
    imap: DovecotServer, recorder: Recorder
) -> None:
    """R-C18 / case 41: without MOVE, COPY + \\Deleted + UID EXPUNGE of our UIDs only."""
    theirs = imap.append(message(1))
    ours = imap.append(message(2))
    other_client = imap.client()
    try:
        other_client.select_folder("INBOX")
        other_client.add_flags([theirs], [b"\\Deleted"])  # marked, not yet expunged, by a colleague
        source = make_source(imap, recorder, use_move=False)
        try:
            fetched = all_messages(list(source.batches(Cursor())))
            assert {uid_of(m) for m in fetched} == {theirs, ours}  # nothing that arrived is skipped
            source.done([m for m in fetched if uid_of(m) == ours])
        finally:
            source.close()
    finally:
        other_client.logout()

    assert imap.uids("INBOX") == [theirs]
    assert b"\\Deleted" in imap.flags("INBOX")[theirs]
    assert len(imap.uids("Processed")) == 1
    assert recorder.count("move") == 0
    assert recorder.count("copy") == 1 and recorder.count("uid_expunge") == 1
    assert recorder.count("expunge") == 0  # never a plain EXPUNGE


def test_after_flag_adds_keyword_and_keeps_seen_unchanged(imap: DovecotServer) -> None:
    imap.append(message(1))
    source = make_source(imap, after="flag")
    try:
        fetched = all_messages(list(source.batches(Cursor())))
        source.done(fetched)
    finally:
        source.close()

    [(uid, flags)] = imap.flags("INBOX").items()
    assert uid == uid_of(fetched[0])
    assert PROCESSED_KEYWORD.encode() in flags
    assert b"\\Seen" not in flags
    assert "Processed" not in imap.folder_names()


def test_leftovers_after_crash_between_commit_and_move_are_offered_again(imap: DovecotServer) -> None:
    """A crash after the caller's commit but before done(): the next connection re-offers them."""
    for n in range(3):
        imap.append(message(n))
    first = make_source(imap)
    batches = list(first.batches(Cursor()))
    first.close()  # "crash": committed (cursor stored), never moved
    cursor = batches[-1].cursor

    second = make_source(imap)
    try:
        again = list(second.batches(cursor))
        assert [m.key for m in all_messages(again)] == [m.key for m in all_messages(batches)]
        assert all(b.cursor == cursor for b in again)  # the cursor never moves backwards
        second.done(all_messages(again))
        assert imap.uids("INBOX") == []
        assert list(second.batches(cursor)) == []  # swept once per connection, then quiet
    finally:
        second.close()


# -- resync and faults ----------------------------------------------------------------------------


def test_r_c16_case_39_uidvalidity_change_yields_everything_again(imap: DovecotServer) -> None:
    """R-C16 / case 39: a new UIDVALIDITY voids the cursor; all mail comes again under new keys."""
    imap.deliver_files(message(n) for n in range(4))
    source = make_source(imap)
    try:
        before = all_messages(list(source.batches(Cursor())))
        cursor = Cursor(int(before[0].key.split(":")[0]), max(uid_of(m) for m in before))

        old, new = imap.change_uidvalidity()

        after = list(source.batches(cursor))  # the source must reconnect after the restart
        again = all_messages(after)
        assert old == cursor.validity
        assert sorted(m.raw for m in again) == sorted(m.raw for m in before)
        assert all(m.key.startswith(f"{new}:") for m in again)
        assert after[-1].cursor.validity == new

        source.done(before)  # stale keys: skipped, nothing moved
        assert len(imap.uids("INBOX")) == 4
    finally:
        source.close()


def test_connection_dropped_mid_batch_raises_and_next_call_resumes(imap: DovecotServer) -> None:
    imap.deliver_files(message(n) for n in range(6))
    source = make_source(imap, batch_size=2)
    try:
        iterator = source.batches(Cursor())
        first = next(iterator)
        source.done(first.messages)  # the caller committed batch 1

        assert imap.kill_connections() >= 1
        with pytest.raises(SourceError):
            next(iterator)

        rest = all_messages(list(source.batches(first.cursor)))  # reconnects by itself
        assert len(rest) == 4
        assert min(uid_of(m) for m in rest) > first.cursor.last_uid
    finally:
        source.close()


def test_r_c20_starttls_fails_closed_when_not_offered(imap: DovecotServer) -> None:
    """R-C20: a server without STARTTLS is refused rather than spoken to in clear text."""
    source = make_source(imap, security="starttls")
    try:
        with pytest.raises(SourceError, match="STARTTLS"):
            list(source.batches(Cursor()))
    finally:
        source.close()


def test_r_c20_implicit_tls_verifies_the_server(imap: DovecotServer) -> None:
    """R-C20: implicit TLS to something that is not a TLS server is an error, never a downgrade."""
    source = make_source(imap, security="tls", timeout=3)
    try:
        with pytest.raises(SourceError, match="connect"):
            list(source.batches(Cursor()))
    finally:
        source.close()


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_r_c20_tls_modes_verify_the_certificate_and_work_when_trusted(
    dovecot_tls: DovecotServer, security: str
) -> None:
    """R-C20: STARTTLS and implicit TLS verify the server (default context refuses a self-signed
    certificate); with the certificate trusted, fetching and IDLE work over the encrypted link."""
    dovecot_tls.reset()
    port = dovecot_tls.port if security == "starttls" else dovecot_tls.tls_port
    untrusting = make_source(dovecot_tls, security=security, port=port, host="localhost")
    try:
        with pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED"):
            list(untrusting.batches(Cursor()))
    finally:
        untrusting.close()

    trusted = ssl.create_default_context(cafile=str(dovecot_tls.ca_file))
    source = make_source(dovecot_tls, security=security, port=port, host="localhost", ssl_context=trusted)
    try:
        dovecot_tls.append(message(1))
        assert len(all_messages(list(source.batches(Cursor())))) == 1
        timer = threading.Timer(0.3, lambda: dovecot_tls.append(message(2)))
        timer.start()
        try:
            assert source.wait_for_mail(timeout=10) is True
        finally:
            timer.join()
    finally:
        source.close()


def test_no_personal_data_in_logs_even_at_debug(
    imap: DovecotServer, source: ImapSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    imap.append(message(11))
    fetched = all_messages(list(source.batches(Cursor())))
    source.done(fetched)
    assert caplog.records, "the adapter should log what it did (ids and counts)"
    for secret in ("klant11@example.nl", "Vraag nummer 11", "bericht 11", imap.password):
        assert secret not in caplog.text


def test_bad_login_is_source_error_without_the_password(imap: DovecotServer) -> None:
    source = make_source(imap, password="wrong-secret-xyz")
    try:
        with pytest.raises(SourceError, match="login") as raised:
            list(source.batches(Cursor()))
        assert "wrong-secret-xyz" not in str(raised.value)
    finally:
        source.close()


def test_check_reports_capabilities_without_changing_anything(
    imap: DovecotServer, source: ImapSource
) -> None:
    imap.append(message(1))
    report = source.check()
    assert report["messages"] == 1
    assert report["idle"] is True and report["move"] is True
    assert report["uidvalidity"] == imap.uidvalidity()
    assert all(b"\\Seen" not in f for f in imap.flags().values())


# -- waiting --------------------------------------------------------------------------------------


def test_wait_for_mail_returns_soon_after_another_client_appends(
    imap: DovecotServer, source: ImapSource
) -> None:
    list(source.batches(Cursor()))
    timer = threading.Timer(0.5, lambda: imap.append(message(5)))
    started = time.monotonic()
    timer.start()
    try:
        assert source.wait_for_mail(timeout=10) is True
    finally:
        timer.join()
    assert time.monotonic() - started < 5
    assert len(all_messages(list(source.batches(Cursor())))) == 1


def test_wait_for_mail_sees_mail_that_came_before_idle(imap: DovecotServer, source: ImapSource) -> None:
    batches = list(source.batches(Cursor()))
    assert batches == []
    imap.append(message(6))  # between the fetch and the wait
    started = time.monotonic()
    assert source.wait_for_mail(timeout=10) is True
    assert time.monotonic() - started < 2


def test_r_c19_case_42_idle_reissued_within_the_period(imap: DovecotServer, recorder: Recorder) -> None:
    """R-C19 / case 42: IDLE is restarted every period (seconds here, 29 minutes in production)."""
    source = make_source(imap, recorder, idle_reissue_seconds=2)
    try:
        started = time.monotonic()
        assert source.wait_for_mail(timeout=5) is False
        elapsed = time.monotonic() - started
    finally:
        source.close()
    assert 4.5 < elapsed < 8
    assert recorder.count("idle") >= 3  # first IDLE plus at least two re-issues


def test_connection_dropped_during_idle_wakes_the_caller_and_next_pass_reconnects(
    imap: DovecotServer, source: ImapSource
) -> None:
    list(source.batches(Cursor()))
    timer = threading.Timer(0.3, imap.kill_connections)
    started = time.monotonic()
    timer.start()
    try:
        assert source.wait_for_mail(timeout=10) is True  # "look now", not an exception in the loop
    finally:
        timer.join()
    assert time.monotonic() - started < 5  # noticed at once, not at the timeout
    imap.append(message(8))
    assert len(all_messages(list(source.batches(Cursor())))) == 1


def test_unreachable_server_waits_out_the_timeout_without_raising(imap: DovecotServer) -> None:
    """A service loop of batches() + wait_for_mail() must not spin while the server is down."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]  # bound, never listening: connection refused
        source = make_source(imap, port=dead_port)
        try:
            with pytest.raises(SourceError, match="connect"):
                list(source.batches(Cursor()))
            started = time.monotonic()
            assert source.wait_for_mail(timeout=0.6) is True
            assert 0.5 < time.monotonic() - started < 3
        finally:
            source.close()


def test_interrupt_wakes_a_waiting_source_from_another_thread(
    imap: DovecotServer, source: ImapSource, recorder: Recorder
) -> None:
    timer = threading.Timer(0.3, source.interrupt)
    started = time.monotonic()
    timer.start()
    try:
        assert source.wait_for_mail(timeout=20) is False
    finally:
        timer.join()
    assert time.monotonic() - started < 3
    # The same session is still usable after leaving IDLE (no reconnect needed).
    imap.append(message(7))
    assert len(all_messages(list(source.batches(Cursor())))) == 1
    assert recorder.count("login") == 1


# -- volume ---------------------------------------------------------------------------------------


def test_two_thousand_messages_fetch_in_batches(
    imap: DovecotServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fetch speed over loopback for the report; the floor only catches one-by-one fetching."""
    count = 2000
    imap.deliver_files(message(n, extra=f"X-Pad: {'x' * 500}\r\n") for n in range(count))
    source = make_source(imap, batch_size=200)
    try:
        started = time.perf_counter()
        batches = list(source.batches(Cursor()))
        elapsed = time.perf_counter() - started
    finally:
        source.close()
    fetched = all_messages(batches)
    assert len(fetched) == count and len({m.key for m in fetched}) == count
    assert len(batches) == 10
    rate = count / elapsed
    with capsys.disabled():
        print(f"\nimap fetch: {count} messages in {elapsed:.2f}s = {rate:.0f} msg/s")
    assert rate > 300
