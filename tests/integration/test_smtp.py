"""SMTP against real servers on loopback: SmtpMailer → aiosmtpd sink, smtplib → EmbeddedListener.

Failures must be sorted right, because the outbox decides from the exception type alone whether to
retry (Temporary) or give up and alert staff (Permanent).
"""

from __future__ import annotations

import datetime as dt
import email.policy
import ipaddress
import smtplib
import ssl
import time
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailbot.adapters.maildir_sender import MaildirMailer
from mailbot.adapters.smtp_listener import EmbeddedListener
from mailbot.adapters.smtp_sender import SmtpMailer
from mailbot.mail.compose import AUTO_REPLIED, OutgoingMail, build_message, make_message_id
from mailbot.services.ports import PermanentDeliveryError, TemporaryDeliveryError
from tests.support.smtp_sink import SmtpSink, smtp_sink

__all__ = ["smtp_sink"]  # the fixture, re-exported so pytest finds it here

SENDER = "info@ordevos.nl"
CUSTOMER = "jan@example.nl"
NOW = dt.datetime(2026, 3, 5, 9, 30, tzinfo=dt.UTC)


def acknowledgement() -> bytes:
    mail = OutgoingMail(
        from_address=SENDER,
        from_name="Ordevos",
        to=(CUSTOMER,),
        subject="[ORD-2026-00042] Wij hebben uw klacht ontvangen",
        text="Beste Jan,\n\nOns hoofdkantoor neemt binnen 48 uur contact met u op.\n.\nEinde\n",
        html=None,
        message_id=make_message_id("ordevos.nl"),
        date=NOW,
        language="nl",
        auto_submitted=AUTO_REPLIED,
        in_reply_to="<klant-1@example.nl>",
        references=("<klant-1@example.nl>",),
        ticket_ref="ORD-2026-00042",
    )
    return build_message(mail)


# -- SmtpMailer → sink ----------------------------------------------------------------------------


def test_delivers_the_exact_bytes(smtp_sink: SmtpSink) -> None:
    data = acknowledgement()
    SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5).send(SENDER, [CUSTOMER], data)
    [got] = smtp_sink.wait_for(1)
    assert got.mail_from == SENDER and got.rcpt_tos == (CUSTOMER,)
    assert got.data == data  # dot-stuffing undone, CRLF kept: byte for byte what we built
    msg = got.message()
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Mailbot-Ticket"] == "ORD-2026-00042"
    assert msg["In-Reply-To"] == "<klant-1@example.nl>"


def test_4xx_is_temporary(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(451, "4.3.0 Try again later")
    mailer = SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5)
    with pytest.raises(TemporaryDeliveryError) as info:
        mailer.send(SENDER, [CUSTOMER], acknowledgement())
    assert info.value.detail.startswith("send: 451 4.3.0")
    assert smtp_sink.messages == []
    mailer.send(SENDER, [CUSTOMER], acknowledgement())  # the retry goes through
    assert len(smtp_sink.wait_for(1)) == 1


def test_5xx_is_permanent_with_the_servers_answer(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(554, "5.7.1 Message rejected as spam")
    with pytest.raises(PermanentDeliveryError) as info:
        SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5).send(
            SENDER, [CUSTOMER], acknowledgement()
        )
    assert "554 5.7.1 Message rejected as spam" in info.value.detail
    assert smtp_sink.messages == []


def test_refused_recipient_is_permanent_and_address_is_masked(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(550, f"5.1.1 <{CUSTOMER}>: Recipient address rejected", stage="rcpt")
    with pytest.raises(PermanentDeliveryError) as info:
        SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5).send(
            SENDER, [CUSTOMER], acknowledgement()
        )
    assert "550 5.1.1" in info.value.detail
    assert CUSTOMER not in info.value.detail  # details go to logs and the digest: no personal data


def test_greylisted_recipient_is_temporary(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(450, "4.2.0 Greylisted, come back later", stage="rcpt")
    with pytest.raises(TemporaryDeliveryError):
        SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5).send(
            SENDER, [CUSTOMER], acknowledgement()
        )


def test_sender_refused_5xx_is_permanent(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(553, "5.7.1 Sender not allowed", stage="mail")
    with pytest.raises(PermanentDeliveryError):
        SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5).send(
            SENDER, [CUSTOMER], acknowledgement()
        )


def test_sink_down_is_temporary_then_delivers_once_when_back(smtp_sink: SmtpSink) -> None:
    mailer = SmtpMailer("127.0.0.1", smtp_sink.port, "plain", timeout=5)
    smtp_sink.stop()
    with pytest.raises(TemporaryDeliveryError):
        mailer.send(SENDER, [CUSTOMER], acknowledgement())
    with pytest.raises(TemporaryDeliveryError):
        mailer.check_connection()
    smtp_sink.start()
    mailer.send(SENDER, [CUSTOMER], acknowledgement())
    assert len(smtp_sink.wait_for(1)) == 1
    assert "OK" in mailer.check_connection()


def test_silent_server_times_out_as_temporary() -> None:
    """A server that accepts TCP but never greets: timeout → Temporary, within the timeout."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        mailer = SmtpMailer("127.0.0.1", server.getsockname()[1], "plain", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(TemporaryDeliveryError, match="timed out"):
            mailer.send(SENDER, [CUSTOMER], acknowledgement())
        assert time.monotonic() - started < 3


# -- TLS and AUTH (R-C20) -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: (server context, client context trusting it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


@pytest.fixture
def starttls_sink(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[SmtpSink]:
    with SmtpSink(tls_context=tls_pair[0], require_starttls=True, credentials=("mailbot", "s3cret")) as sink:
        yield sink


def test_starttls_with_auth(starttls_sink: SmtpSink, tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    mailer = SmtpMailer(
        "127.0.0.1", starttls_sink.port, "starttls", "mailbot", "s3cret", timeout=5, ssl_context=tls_pair[1]
    )
    mailer.send(SENDER, [CUSTOMER], acknowledgement())
    [got] = starttls_sink.wait_for(1)
    assert got.tls and got.authenticated_as == "mailbot"
    assert "authenticated" in mailer.check_connection()


def test_wrong_password_is_permanent(
    starttls_sink: SmtpSink, tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    mailer = SmtpMailer(
        "127.0.0.1", starttls_sink.port, "starttls", "mailbot", "wrong", timeout=5, ssl_context=tls_pair[1]
    )
    with pytest.raises(PermanentDeliveryError, match="535"):
        mailer.send(SENDER, [CUSTOMER], acknowledgement())
    assert starttls_sink.messages == []


def test_untrusted_certificate_is_refused(starttls_sink: SmtpSink) -> None:
    """Default context: the self-signed certificate does not verify, nothing is sent in the clear."""
    mailer = SmtpMailer("127.0.0.1", starttls_sink.port, "starttls", "mailbot", "s3cret", timeout=5)
    with pytest.raises(TemporaryDeliveryError, match="TLS"):
        mailer.send(SENDER, [CUSTOMER], acknowledgement())
    assert starttls_sink.messages == []


def test_starttls_is_enforced_when_server_does_not_offer_it(smtp_sink: SmtpSink) -> None:
    """A server (or an attacker) without STARTTLS does not get our mail in plaintext (R-C20)."""
    with pytest.raises(TemporaryDeliveryError, match="STARTTLS"):
        SmtpMailer("127.0.0.1", smtp_sink.port, "starttls", timeout=5).send(
            SENDER, [CUSTOMER], acknowledgement()
        )
    assert smtp_sink.messages == []


def test_implicit_tls(tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    with SmtpSink(ssl_context=tls_pair[0]) as sink:
        SmtpMailer("127.0.0.1", sink.port, "tls", timeout=5, ssl_context=tls_pair[1]).send(
            SENDER, [CUSTOMER], acknowledgement()
        )
        [got] = sink.wait_for(1)
        assert got.tls


# -- MaildirMailer --------------------------------------------------------------------------------


def test_maildir_mailer_writes_readable_mail(tmp_path: Path) -> None:
    data = acknowledgement()
    MaildirMailer(tmp_path / "sent").send(SENDER, [CUSTOMER], data)
    [path] = list((tmp_path / "sent" / "new").iterdir())
    assert list((tmp_path / "sent" / "tmp").iterdir()) == []
    stored = path.read_bytes()
    assert b"\r\n" not in stored
    msg = BytesParser(policy=email.policy.default).parsebytes(stored)
    assert msg["Return-Path"] == f"<{SENDER}>"
    assert msg["X-Mailbot-Envelope-To"] == f"<{CUSTOMER}>"
    assert msg["Subject"] == "[ORD-2026-00042] Wij hebben uw klacht ontvangen"


def test_maildir_mailer_refuses_hostile_envelope(tmp_path: Path) -> None:
    with pytest.raises(PermanentDeliveryError):
        MaildirMailer(tmp_path / "sent").send(SENDER, ["a@b.nl\r\nBcc: x@y"], acknowledgement())


# -- EmbeddedListener -----------------------------------------------------------------------------


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[EmbeddedListener]:
    arrival = dt.datetime(2026, 3, 31, 21, 59, 30, tzinfo=dt.UTC)
    with EmbeddedListener(
        "127.0.0.1", 0, tmp_path / "inbox", max_size=64 * 1024, clock=lambda: arrival
    ) as lst:
        yield lst


def test_listener_stores_before_it_answers(listener: EmbeddedListener) -> None:
    data = acknowledgement()
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=5) as client:
        refused = client.sendmail("klant@example.nl", ["info@ordevos.nl"], data)
        assert refused == {}
        # the 250 has been read: the file must already be in new/ (no waiting, no polling)
        files = list((listener.inbox_dir / "new").iterdir())
    assert len(files) == 1
    assert list((listener.inbox_dir / "tmp").iterdir()) == []
    stored = files[0].read_bytes()
    assert stored.endswith(data)
    msg = BytesParser(policy=email.policy.default).parsebytes(stored)
    assert msg["Return-Path"] == "<klant@example.nl>"
    assert msg["X-Mailbot-Received-At"] == "2026-03-31T21:59:30Z"
    assert "by mailbot.localhost (mailbot) with ESMTP" in str(msg["Received"])
    assert msg["Subject"] == "[ORD-2026-00042] Wij hebben uw klacht ontvangen"


def test_listener_keeps_null_sender_for_loop_guard_R_C2(listener: EmbeddedListener) -> None:
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=5) as client:
        client.sendmail("", ["info@ordevos.nl"], acknowledgement())
    [path] = list((listener.inbox_dir / "new").iterdir())
    assert path.read_bytes().startswith(b"Return-Path: <>\r\n")


def test_listener_refuses_oversize_with_552(listener: EmbeddedListener) -> None:
    big = acknowledgement() + (b"x" * 70 + b"\r\n") * 1024
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=5) as client:
        # smtplib announces SIZE, so the refusal comes at MAIL FROM; without SIZE it comes after DATA
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as info:
            client.sendmail("klant@example.nl", ["info@ordevos.nl"], big)
        assert info.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=5) as client:
        client.ehlo()
        client.esmtp_features.pop("size", None)
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("klant@example.nl", ["info@ordevos.nl"], big)
        assert info.value.smtp_code == 552
    assert list((listener.inbox_dir / "new").iterdir()) == []


def test_listener_refuses_bare_lf(listener: EmbeddedListener) -> None:
    """SMTP smuggling material (``\\n.\\r\\n``) is refused, not stored (and not split into two mails)."""
    with smtplib.SMTP("127.0.0.1", listener.port, timeout=5) as client:
        client.ehlo()
        client.mail("klant@example.nl")
        client.rcpt("info@ordevos.nl")
        code, _ = client.docmd("DATA")
        assert code == 354
        client.send(
            b"Subject: one\r\n\r\nbody\n.\r\nMAIL FROM:<evil@x.tld>\r\nRCPT TO:<info@ordevos.nl>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nhi\r\n.\r\n"
        )
        code, _ = client.getreply()
        assert code == 550
    assert list((listener.inbox_dir / "new").iterdir()) == []


def test_listener_answers_451_when_it_cannot_store(tmp_path: Path) -> None:
    """Storage failing → 451: the sending server keeps the message and retries (nothing lost)."""
    inbox = tmp_path / "inbox"
    with EmbeddedListener("127.0.0.1", 0, inbox) as lst:
        (inbox / "tmp").rmdir()
        (inbox / "tmp").write_bytes(b"")  # tmp/ is now a file: every delivery fails, even as root
        with (
            smtplib.SMTP("127.0.0.1", lst.port, timeout=5) as client,
            pytest.raises(smtplib.SMTPDataError) as info,
        ):
            client.sendmail("klant@example.nl", ["info@ordevos.nl"], acknowledgement())
        assert info.value.smtp_code == 451
    assert list((inbox / "new").iterdir()) == []


def test_mailer_to_listener_roundtrip(listener: EmbeddedListener) -> None:
    """Our sender and our listener speak to each other: the bytes survive intact."""
    data = acknowledgement()
    SmtpMailer("127.0.0.1", listener.port, "plain", timeout=5).send(SENDER, [CUSTOMER], data)
    [path] = list((listener.inbox_dir / "new").iterdir())
    assert path.read_bytes().endswith(data)


def test_listener_caps_recipients_with_452(tmp_path: Path) -> None:
    """Issue 13: mail for info@ has a few recipients; a long list is a relay attempt."""
    lst = EmbeddedListener("127.0.0.1", 0, tmp_path / "inbox", max_recipients=3)
    lst.start()
    try:
        with smtplib.SMTP("127.0.0.1", lst.port, timeout=5) as client:
            client.ehlo()
            client.mail("klant@example.nl")
            codes = [client.rcpt(f"r{i}@ordevos.nl")[0] for i in range(5)]
    finally:
        lst.stop()
    assert codes == [250, 250, 250, 452, 452]


def test_listener_refuses_connections_beyond_the_cap_with_421(tmp_path: Path) -> None:
    """Issue 13: idle connections beyond the cap are answered 421 and closed; the ones held keep
    working and a new connection is accepted again once one closes."""
    with EmbeddedListener("127.0.0.1", 0, tmp_path / "inbox", max_connections=2) as lst:
        held = [smtplib.SMTP("127.0.0.1", lst.port, timeout=5) for _ in range(2)]
        try:
            with pytest.raises(smtplib.SMTPConnectError) as info:
                smtplib.SMTP("127.0.0.1", lst.port, timeout=5)
            assert info.value.smtp_code == 421
            assert held[0].noop()[0] == 250
        finally:
            for client in held:
                client.quit()
        deadline = time.monotonic() + 5
        while True:  # connection_lost runs on the listener's loop shortly after QUIT
            try:
                with smtplib.SMTP("127.0.0.1", lst.port, timeout=5) as again:
                    assert again.sendmail("klant@example.nl", ["info@ordevos.nl"], acknowledgement()) == {}
                break
            except smtplib.SMTPConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    assert len(list((tmp_path / "inbox" / "new").iterdir())) == 1
