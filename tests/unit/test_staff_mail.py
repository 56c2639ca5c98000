"""The private reply address, its token, the first-line commands and the answer's text (issue 11)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.domain.staff_mail import (
    TOKEN_LENGTH,
    ReplyAddress,
    ReplyAddresses,
    StaffCommand,
    UnknownCommand,
    parse_instruction,
    recipient_addresses,
    reply_token,
    resolve_staff,
)
from mailbot.mail.text import answer_text

KEY = b"k" * 32
REPLIES = ReplyAddresses(KEY, "info@ordevos.nl")
REF = "ORD-2026-00042"


def test_address_round_trips_and_verifies_only_for_its_staff_member_and_ticket() -> None:
    address = REPLIES.address_for(REF, "Anna@Ordevos.nl")
    assert address.startswith("info+ORD-2026-00042.") and address.endswith("@ordevos.nl")
    found = REPLIES.find(["someone@example.nl", address.upper()])
    assert found is not None and found.ref == REF and len(found.token) == TOKEN_LENGTH
    assert REPLIES.verify(found, "anna@ordevos.nl")
    assert not REPLIES.verify(found, "bram@ordevos.nl")  # a token is not handed to a colleague
    moved = ReplyAddress("ORD-2026-00043", found.token)
    assert not REPLIES.verify(moved, "anna@ordevos.nl")  # nor moved to another ticket
    other_key = ReplyAddresses(b"x" * 32, "info@ordevos.nl")
    assert not other_key.verify(found, "anna@ordevos.nl")


def test_damaged_tokens_are_attempts_that_fail_and_other_tags_are_not_reply_addresses() -> None:
    for local in ("info+ORD-2026-00042", "info+ord-2026-00042.", "info+ORD-2026-00042.abc"):
        found = REPLIES.find([f"{local}@ordevos.nl"])
        assert found is not None and found.ref == REF
        assert not REPLIES.verify(found, "anna@ordevos.nl")
    assert REPLIES.find(["info+nieuwsbrief@ordevos.nl", "info@ordevos.nl"]) is None
    assert REPLIES.find(["info+ORD-2026-00042.abcdefghij@elsewhere.example"]) is None


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=TOKEN_LENGTH, max_size=TOKEN_LENGTH))
def test_a_guessed_token_does_not_verify(guess: str) -> None:
    if guess != reply_token(KEY, REF, "anna@ordevos.nl"):
        assert not REPLIES.verify(ReplyAddress(REF, guess), "anna@ordevos.nl")


def test_recipients_from_delivered_to_headers() -> None:
    assert recipient_addresses(["<info+ORD-2026-00042.x@ordevos.nl>", "Info <info@ordevos.nl>"]) == [
        "info+ORD-2026-00042.x@ordevos.nl",
        "info@ordevos.nl",
    ]


@pytest.mark.parametrize(
    ("text", "command", "argument", "rest"),
    [
        ("Beste Jan,\n\nDat lossen we op.", StaffCommand.ANSWER, "", "Beste Jan,\n\nDat lossen we op."),
        ("#note\nKlant belde ook.", StaffCommand.NOTE, "", "Klant belde ook."),
        ("#NOTE klant belde\nook nog", StaffCommand.NOTE, "klant belde", "ook nog"),
        ("\n#close\n", StaffCommand.CLOSE, "", ""),
        ("#wait\nKunt u de factuur sturen?", StaffCommand.WAIT, "", "Kunt u de factuur sturen?"),
        ("#assign bram", StaffCommand.ASSIGN, "bram", ""),
        ("#1 is the invoice number", StaffCommand.ANSWER, "", "#1 is the invoice number"),
        ("#verify teruggebeld", StaffCommand.VERIFY, "teruggebeld", ""),
        ("#extend 2 veel systemen", StaffCommand.EXTEND, "2 veel systemen", ""),
        ("#refuse\nal beantwoord", StaffCommand.REFUSE, "", "al beantwoord"),
        ("#fulfil", StaffCommand.FULFIL, "", ""),
    ],
)
def test_first_line_commands(text: str, command: StaffCommand, argument: str, rest: str) -> None:
    instruction = parse_instruction(text)
    assert (instruction.command, instruction.argument, instruction.text) == (command, argument, rest)


@pytest.mark.parametrize(
    "text",
    ["#sluit\nweg ermee", "#assign", "#answer hallo", "#verify", "#extend 3 te laat", "#extend 1", "#refuse"],
)
def test_unknown_or_incomplete_commands_are_refused(text: str) -> None:
    with pytest.raises(UnknownCommand, match="#"):
        parse_instruction(text)


def test_resolve_staff_by_address_or_local_part() -> None:
    staff = ("anna@ordevos.nl", "bram@ordevos.nl", "bram@coaching.example")
    assert resolve_staff("Anna", staff) == "anna@ordevos.nl"
    assert resolve_staff("bram@coaching.example", staff) == "bram@coaching.example"
    assert resolve_staff("bram", staff) is None  # two people: say which
    assert resolve_staff("carla", staff) is None


@pytest.mark.parametrize(
    "quote",
    [
        "Op di 3 mrt 2026 om 10:12 schreef Ordevos mailbot <info@ordevos.nl>:\n> Er is een nieuw ticket",
        "On Tue, 3 Mar 2026 at 10:12, Ordevos mailbot <info@ordevos.nl> wrote:\n> A new ticket",
        "-----Original Message-----\nFrom: Ordevos mailbot\nSent: Tuesday\nSubject: x\n\nEr is een",
        "Van: Ordevos mailbot <info@ordevos.nl>\nVerzonden: dinsdag 3 maart 2026 10:12\n"
        "Aan: anna@ordevos.nl\nOnderwerp: [ORD-2026-00042] Nieuw ticket\n\nEr is een nieuw ticket",
        "> Er is een nieuw ticket geopend.",
    ],
)
def test_answer_text_drops_quoted_history_and_signature_but_keeps_the_greeting(quote: str) -> None:
    body = f"Beste Jan,\n\nDe factuur is aangepast.\n\nMet vriendelijke groet,\nAnna\n\n{quote}\n"
    assert answer_text(body) == "Beste Jan,\n\nDe factuur is aangepast.\n\nMet vriendelijke groet,\nAnna"
    signed = "Beste Jan,\n\nKlopt.\n\nAnna\n-- \nAnna de Wit | Ordevos | 030 123 4567\n" + quote
    assert answer_text(signed) == "Beste Jan,\n\nKlopt.\n\nAnna"
