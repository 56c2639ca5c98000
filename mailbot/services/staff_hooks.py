"""The processing hooks that bring staff into the loop: the notice of a new ticket, the notice of
a customer's follow-up, and carrying out a verified staff reply (then confirming it).

They run inside the processing transaction of the message, so the notice, the answer and the
confirmation exist exactly when the message is recorded as processed — a crash in between loses
and doubles nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from mailbot.domain.staff_mail import GDPR_COMMANDS, UnknownCommand, parse_instruction
from mailbot.mail.text import answer_text, current_text
from mailbot.services.process import FollowUp, OpenedTicket, StaffReply
from mailbot.services.staff import Outcome, StaffDesk, carry_out, confirm, notify_staff
from mailbot.services.staff_commands import GdprDesk, carry_out_gdpr


def new_ticket_notice(desk: StaffDesk) -> Callable[[OpenedTicket], None]:
    def on_ticket_opened(opened: OpenedTicket) -> None:
        parsed = opened.parsed
        notify_staff(
            opened.uow,
            desk,
            opened.ticket,
            "staff_new_ticket",
            parsed.from_name or opened.customer.name,
            parsed.subject,
            current_text(parsed.text, parsed.subject) or parsed.text,
            opened.now,
            dedupe=f"staff_new_ticket:{opened.ticket.id}",
            restricted=opened.customer.restricted,
        )

    return on_ticket_opened


def follow_up_notice(desk: StaffDesk) -> Callable[[FollowUp], None]:
    def on_follow_up(follow: FollowUp) -> None:
        parsed = follow.parsed
        notify_staff(
            follow.uow,
            desk,
            follow.ticket,
            "staff_follow_up",
            parsed.from_name or (follow.customer.name if follow.customer else ""),
            parsed.subject,
            current_text(parsed.text, parsed.subject) or parsed.text,
            follow.now,
            dedupe=f"staff_follow_up:{parsed.message_id or follow.now.isoformat()}",
            restricted=bool(follow.customer and follow.customer.restricted),
            possible_request=follow.possible_request.value if follow.possible_request else None,
        )

    return on_follow_up


def staff_reply_handler(desk: StaffDesk, gdpr: GdprDesk) -> Callable[[StaffReply], None]:
    def on_staff_reply(reply: StaffReply) -> None:
        text = answer_text(reply.parsed.text)
        try:
            instruction = parse_instruction(text)
        except UnknownCommand as exc:
            outcome = Outcome("unknown", error=str(exc))
        else:
            if instruction.command in GDPR_COMMANDS:
                outcome = carry_out_gdpr(reply.uow, gdpr, reply.ticket, reply.staff, instruction, reply.now)
            else:
                outcome = carry_out(
                    reply.uow,
                    desk,
                    reply.ticket,
                    reply.staff,
                    instruction.command,
                    instruction.argument,
                    instruction.text,
                    reply.now,
                )
        confirm(reply.uow, desk, reply.ticket, reply.staff, outcome, reply.now)

    return on_staff_reply
