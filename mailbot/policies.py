"""Settings → the domain's policies: who we are, the work calendar, the deadline rules and the
reminder ladder. Pure translations (no adapters, no I/O), so the composition root and any test
that needs one policy build it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from mailbot.config import Settings
from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import DeadlinePolicy, compute_deadlines
from mailbot.domain.ladder import LadderStep, make_steps, validate_ladder
from mailbot.domain.model import Category, Organisation
from mailbot.domain.promise import ResponsePromise


def organisation_of(settings: Settings) -> Organisation:
    """Who we are. Staff addresses are people, not our machine: mail from them is never taken for
    a loop of our own mail (R-C5); ``decide`` files it as a staff reply or internal mail instead."""
    o = settings.organisation
    own = tuple(dict.fromkeys([o.mailbox.lower(), settings.smtp.from_address.lower()]))
    return Organisation(
        name=o.name,
        mailbox=o.mailbox,
        domain=o.domain,
        ticket_prefix=o.ticket_prefix,
        timezone=o.timezone,
        own_addresses=own,
        staff=tuple(dict.fromkeys(a.lower() for a in settings.staff.addresses)),
        form_senders=o.form_senders,
    )


def work_calendar_of(settings: Settings) -> WorkCalendar:
    return WorkCalendar(
        extra_holidays=frozenset(settings.deadlines.extra_holidays), zone=settings.organisation.timezone
    )


def deadline_policy_of(settings: Settings) -> DeadlinePolicy:
    d = settings.deadlines
    return DeadlinePolicy(
        first_response_hours=d.first_response_hours,
        hours_mode=d.hours_mode.value,
        day_start=d.business_day_start,
        day_end=d.business_day_end,
        internal_target_working_days=d.internal_target_working_days,
        complaint_resolution_weeks=d.complaint_resolution_weeks,
    )


def response_promise_of(settings: Settings) -> ResponsePromise:
    """What the acknowledgement promises (``deadlines.promise_mode``, issue 17)."""
    d = settings.deadlines
    return ResponsePromise(
        hours=d.first_response_hours,
        mode=d.promise_mode.value,
        calendar=work_calendar_of(settings),
        day_start=d.business_day_start,
        day_end=d.business_day_end,
    )


def ladder_of(settings: Settings) -> dict[str, tuple[LadderStep, ...]]:
    """The reminder/escalation ladder from configuration (issue 5), in the domain's step form."""
    d = settings.deadlines
    ladder = {
        "first_response": make_steps(
            "first_response",
            [timedelta(hours=h) for h in d.reminder_hours_before],
            [timedelta(hours=h) for h in d.escalation_hours_after],
        ),
        "legal": make_steps(
            "legal",
            [timedelta(days=n) for n in d.legal_reminder_days_before],
            [timedelta(days=n) for n in d.legal_escalation_days_after],
        ),
    }
    validate_ladder(ladder)
    return ladder


def deadline_calculator(settings: Settings) -> Callable[[Category, datetime], dict[str, datetime | None]]:
    calendar = work_calendar_of(settings)
    policy = deadline_policy_of(settings)

    def calculate(category: Category, received_at: datetime) -> dict[str, datetime | None]:
        due = compute_deadlines(category, received_at, policy, calendar)
        return {
            "first_response_due": due.first_response_due,
            "legal_due": due.legal_due,
            "legal_due_unpaused": due.legal_due_unpaused,
            "internal_due": due.internal_due,
            "resolution_due": due.resolution_due,
        }

    return calculate
