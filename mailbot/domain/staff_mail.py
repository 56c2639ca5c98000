"""Staff answering through a ticket by mail: the private reply address and the first-line commands.

Every notice to a staff member carries a ``Reply-To`` that is the mailbox with a sub-address:
``info+ORD-2026-00042.k3f9q2ab7d@ordevos.nl``. The token is a keyed MAC over the ticket reference
and that staff member's address, under a key used for nothing else, so it can neither be guessed
nor moved to another ticket or handed to another sender: a reply is relayed to the customer only
when it comes from the staff member the token was made for, for the ticket it names.

A staff reply may start with one command line (documented in the notice's footer)::

    #note        the rest is an internal note, never sent
    #close       close the ticket (the rest, if any, is sent as the answer first)
    #wait        waiting for the customer (the rest, if any, is sent as the answer first)
    #assign NAME hand the ticket to a colleague (by address or the part before the @)

and, on a GDPR request (issue 12)::

    #verify HOW            the requester's identity was checked this way (the clock runs again)
    #extend 1|2 REASON     extend the legal term by one or two months; the requester is told why
    #refuse REASON         refuse the request with this reason (the letter names their remedies)
    #fulfil                carry the verified request out (export, erasure …)

Pure functions: no clock, no storage; the key is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import getaddresses
from enum import StrEnum

TOKEN_LENGTH = 10  # base32 characters: 50 bits, enough against guessing one ticket's token online
_SUBADDRESS = re.compile(r"^(?P<ref>[a-z]+-\d{4}-\d{5})(?:\.(?P<token>[^.]*))?$")


def _normalise(address: str) -> str:
    return address.strip().lower()


def reply_token(key: bytes, ref: str, staff_address: str) -> str:
    """The token for ``staff_address`` answering ticket ``ref`` (lower-case base32)."""
    message = f"{ref.upper()}\x00{_normalise(staff_address)}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:TOKEN_LENGTH]


@dataclass(frozen=True)
class ReplyAddress:
    """A sub-address of the mailbox found among a message's recipients."""

    ref: str
    token: str


@dataclass(frozen=True)
class ReplyAddresses:
    """Makes and checks the private reply addresses of one mailbox."""

    key: bytes
    mailbox: str

    def address_for(self, ref: str, staff_address: str) -> str:
        local, _, domain = self.mailbox.partition("@")
        return f"{local}+{ref.upper()}.{reply_token(self.key, ref, staff_address)}@{domain}"

    def find(self, recipients: Iterable[str]) -> ReplyAddress | None:
        """The first recipient that is a sub-address of our mailbox naming a ticket reference
        (``info+ORD-2026-00042.token@…``). A damaged or missing token still counts as an attempt
        (it fails ``verify``), so it is never mistaken for mail to the plain mailbox; other
        ``+tags`` are left alone."""
        local, _, domain = self.mailbox.lower().partition("@")
        for recipient in recipients:
            address = _normalise(recipient)
            r_local, _, r_domain = address.rpartition("@")
            if r_domain != domain or not r_local.startswith(local + "+"):
                continue
            tag = r_local[len(local) + 1 :]
            match = _SUBADDRESS.match(tag)
            if match is not None:
                return ReplyAddress(ref=match["ref"].upper(), token=match["token"] or "")
        return None

    def verify(self, found: ReplyAddress, staff_address: str) -> bool:
        if len(found.token) != TOKEN_LENGTH:
            return False
        expected = reply_token(self.key, found.ref, staff_address)
        return hmac.compare_digest(expected, found.token)


def recipient_addresses(header_values: Iterable[str]) -> list[str]:
    """Bare addresses from To/Cc/Delivered-To/X-Original-To values (where a sub-address survives)."""
    return [address for _name, address in getaddresses(list(header_values)) if "@" in address]


class StaffCommand(StrEnum):
    ANSWER = "answer"
    NOTE = "note"
    CLOSE = "close"
    WAIT = "wait"
    ASSIGN = "assign"
    VERIFY = "verify"
    EXTEND = "extend"
    REFUSE = "refuse"
    FULFIL = "fulfil"


#: Commands that decide on a GDPR request (their argument is the reason or method).
GDPR_COMMANDS = frozenset(
    {StaffCommand.VERIFY, StaffCommand.EXTEND, StaffCommand.REFUSE, StaffCommand.FULFIL}
)
_EXTEND_ARGUMENT = re.compile(r"^(?P<months>[12])\s+(?P<reason>\S.*)$")


@dataclass(frozen=True)
class StaffInstruction:
    """What a staff reply asks for: the command, its argument (``#assign NAME``) and the text."""

    command: StaffCommand
    argument: str
    text: str


_COMMAND = re.compile(r"^#(?P<name>[a-z]+)\b[ \t]*(?P<arg>[^\n]*)$", re.IGNORECASE)


class UnknownCommand(ValueError):
    """The first line looks like a command but is none of ours (nothing is done, staff are told)."""


def parse_instruction(text: str) -> StaffInstruction:
    """The command on the first non-empty line, if any; the rest is the text. No command: the
    whole text is the answer to the customer."""
    lines = text.strip().splitlines()
    if not lines:
        return StaffInstruction(StaffCommand.ANSWER, "", "")
    match = _COMMAND.match(lines[0].strip())
    if match is None:
        return StaffInstruction(StaffCommand.ANSWER, "", "\n".join(lines).strip())
    name = match["name"].lower()
    if name not in {c.value for c in StaffCommand} or name == StaffCommand.ANSWER.value:
        raise UnknownCommand(
            f"unknown command #{name} (known: #note, #close, #wait, #assign NAME, #verify HOW, "
            "#extend 1|2 REASON, #refuse [partly] REASON, #fulfil)"
        )
    command = StaffCommand(name)
    argument = match["arg"].strip()
    rest = "\n".join(lines[1:]).strip()
    if command is StaffCommand.ASSIGN and not argument:
        raise UnknownCommand("#assign needs a name: #assign anna")
    if command is StaffCommand.VERIFY and not argument:
        raise UnknownCommand(
            "#verify needs how the identity was checked: #verify called back on the known number"
        )
    if command is StaffCommand.EXTEND and not _EXTEND_ARGUMENT.match(argument):
        raise UnknownCommand(
            "#extend needs 1 or 2 months and a reason: #extend 1 the data sits in several systems"
        )
    if command is StaffCommand.REFUSE and not (argument or rest):
        raise UnknownCommand("#refuse needs a reason: #refuse the same request was answered last month")
    return StaffInstruction(command, argument, rest)


_PARTLY = re.compile(r"^(?:partly|partially|gedeeltelijk|deels)\b[ \t:]*", re.IGNORECASE)


def refusal_of(instruction: StaffInstruction) -> tuple[bool, str]:
    """``#refuse``'s reason, and whether it is partial (``#refuse partly REASON`` / ``gedeeltelijk``):
    then the honoured part is carried out and the letter names both parts."""
    partial = _PARTLY.match(instruction.argument) is not None
    argument = _PARTLY.sub("", instruction.argument, count=1) if partial else instruction.argument
    reason = " ".join(p for p in (argument.strip(), instruction.text) if p).strip()
    if not reason:
        raise UnknownCommand("#refuse needs a reason: #refuse partly the invoices stay seven years")
    return partial, reason


def extension_of(argument: str) -> tuple[int, str]:
    """``#extend``'s months and reason (``parse_instruction`` has checked the shape)."""
    match = _EXTEND_ARGUMENT.match(argument)
    if match is None:
        raise UnknownCommand("#extend needs 1 or 2 months and a reason")
    return int(match["months"]), match["reason"].strip()


def resolve_staff(name: str, staff: Iterable[str]) -> str | None:
    """A staff address from ``name``: the full address, or the part before the @ (case-insensitive);
    None when it names nobody or more than one person."""
    wanted = _normalise(name)
    addresses = [_normalise(s) for s in staff]
    if wanted in addresses:
        return wanted
    matches = [a for a in addresses if a.partition("@")[0] == wanted]
    return matches[0] if len(matches) == 1 else None
