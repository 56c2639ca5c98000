"""A staff member's decisions on a GDPR request by mail (issue 12): ``#verify``, ``#extend``,
``#refuse`` and ``#fulfil`` do exactly what ``tickets verify|extend|refuse|fulfil`` do — the same
functions — and come back as an ``Outcome`` for the confirmation mail. A refusal by the law or the
ticket (too late to extend, nothing to verify) is an outcome with the reason, never a crash: the
staff mail stays recorded and the member is told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from mailbot.domain.model import Ticket
from mailbot.domain.staff_mail import StaffCommand, StaffInstruction, extension_of, refusal_of
from mailbot.services import decisions, extensions
from mailbot.services.decisions import Fulfiller
from mailbot.services.identity import IdentityDesk, confirm_identity
from mailbot.services.repositories import UnitOfWork
from mailbot.services.staff import Outcome


@dataclass(frozen=True)
class GdprDesk:
    identity: IdentityDesk
    fulfil: Fulfiller | None = None


def carry_out_gdpr(
    uow: UnitOfWork, desk: GdprDesk, ticket: Ticket, staff: str, instruction: StaffInstruction, now: datetime
) -> Outcome:
    command = instruction.command
    identity = desk.identity
    try:
        if command is StaffCommand.VERIFY:
            confirm_identity(uow, identity, ticket, instruction.argument, staff, now)
            return Outcome(command.value, verified=True)
        if command is StaffCommand.EXTEND:
            months, reason = extension_of(instruction.argument)
            result = extensions.extend_ticket(
                uow,
                ticket.ref,
                months,
                reason,
                now,
                renderer=identity.renderer,
                policy=identity.policy,
                calendar=identity.calendar,
                deadline_policy=identity.deadline_policy,
                actor=staff,
            )
            zone = ZoneInfo(identity.policy.org.timezone)
            return Outcome(command.value, extended_to=result.legal_due.astimezone(zone).date().isoformat())
        if command is StaffCommand.REFUSE:
            partial, reason = refusal_of(instruction)
            refusal = decisions.refuse_request(
                uow,
                ticket.ref,
                [reason],
                now,
                partial=partial,
                renderer=identity.renderer,
                policy=identity.policy,
                actor=staff,
                fulfil=desk.fulfil,
            )
            return Outcome(command.value, refused=True, fulfilled=refusal.honoured)
        if desk.fulfil is None:
            return Outcome(command.value, error="#fulfil is not available in this installation yet")
        return Outcome(command.value, fulfilled=desk.fulfil(uow, ticket, staff, now))
    except (ValueError, LookupError) as exc:
        return Outcome(command.value, error=str(exc).strip("'\""))
