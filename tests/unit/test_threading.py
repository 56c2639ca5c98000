"""Ticket references in subjects and our own Message-IDs (R-C10), as pure string functions."""

from __future__ import annotations

import pytest

from mailbot.domain.threading import find_ticket_refs, is_own_message_id, strip_subject_prefixes


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [ORD-2026-00042] Ontvangstbevestiging: Klacht", ["ORD-2026-00042"]),
        ("ORD-2026-00042 zonder haken", ["ORD-2026-00042"]),
        ("antw: vraag over ord-2026-00042", ["ORD-2026-00042"]),
        ("[Ord-2026-42] korte vorm", ["ORD-2026-00042"]),
        ("twee: ORD-2026-00001 en [ORD-2026-00002]", ["ORD-2026-00001", "ORD-2026-00002"]),
        ("dubbel ORD-2026-00003 ORD-2026-00003", ["ORD-2026-00003"]),
    ],
)
def test_finds_references_with_or_without_brackets_any_case(subject: str, expected: list[str]) -> None:
    """R-C10: the subject token names the ticket, normalised so lookups are exact."""
    assert find_ticket_refs(subject, "ORD") == expected


@pytest.mark.parametrize(
    "subject",
    [
        "[#48213] We hebben je verzoek ontvangen",
        "XORD-2026-00042",
        "ORD-2026-0004200",
        "Klacht",
        "",
        "ORD 26 42",
    ],
)
def test_other_numbers_are_not_our_references(subject: str) -> None:
    """Another helpdesk's ticket number or a longer number must not thread into our tickets."""
    assert find_ticket_refs(subject, "ORD") == []


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: klacht", "klacht"),
        ("RE: Antw: Fwd: klacht", "klacht"),
        ("Doorst: AW: WG: TR: Klacht over coach", "Klacht over coach"),
        ("Re[2]: FW: vraag", "vraag"),
        ("Reactie op uw brief", "Reactie op uw brief"),
        ("  Antwoord:  Vraag", "Vraag"),
    ],
)
def test_strips_reply_and_forward_prefixes(subject: str, expected: str) -> None:
    """R-C10: strip Re:/RE:/Antw:/Fwd:/Doorst: (and AW/WG/TR) before comparing subjects."""
    assert strip_subject_prefixes(subject) == expected


@pytest.mark.parametrize(
    ("message_id", "expected"),
    [
        ("<ticket-31.ack@ordevos.nl>", True),
        ("<ABC@OrDeVoS.NL>", True),
        ("nobrackets@ordevos.nl", True),
        ("<nb-2026-02.4471@news.ordevos.nl>", False),
        ("<x@ordevos.nl.evil.example>", False),
        ("<x@notordevos.nl>", False),
        ("<no-at-sign>", False),
        ("", False),
    ],
)
def test_own_message_id_is_exactly_our_domain(message_id: str, expected: bool) -> None:
    """Stateless threading trusts only Message-IDs on our own domain, not the newsletter tool's."""
    assert is_own_message_id(message_id, "ordevos.nl") is expected
