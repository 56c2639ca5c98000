"""When a ticket's answers are due: the 48-hour first answer, the GDPR month, the complaint term.

Pure functions of the receipt time, a calendar and a policy; the current time is always a
parameter, so every rule can be tested at any instant without sleeping. All datetimes in and out
are timezone-aware; results are UTC. "Dates" (the GDPR month, the complaint weeks) are read in the
calendar's local zone, because the law counts local days, while "hours" are real elapsed hours.

Decisions (the rules page leaves room; each is a parameter):
- R-A7: an identity-check pause counts only when the question went out within
  ``identity_question_max_delay_working_days`` (default 5) working days of receipt — "without undue
  delay". The paused days are added to the month's end date *before* the R-A3 rollover, the earlier
  (safer) of the two readings. An open pause counts up to ``now`` when given, else not at all.
- R-A5: extensions may be decided only up to the *unpaused* original legal due, the safer reading.
- R-B2: the complaint decision is due at the end of the local day four weeks after receipt, moved
  to the next working day when that is a weekend or public holiday: the letter must not promise a
  decision "uiterlijk op vrijdag 1 januari" (issue 17).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Literal

from mailbot.domain.calendar import WorkCalendar, require_aware
from mailbot.domain.model import GDPR_CATEGORIES, Category

HoursMode = Literal["calendar", "business"]

_DEFAULT_CALENDAR = WorkCalendar()


def add_calendar_month(d: date, months: int = 1) -> date:
    """R-A2: the same date ``months`` later, or the last day of that month when it has no such date."""
    if months < 0:
        raise ValueError("months must not be negative")
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    first_of_next = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (first_of_next - timedelta(days=1)).day
    return date(year, month, min(d.day, last_day))


def legal_due(received_at: datetime, calendar: WorkCalendar = _DEFAULT_CALENDAR, months: int = 1) -> datetime:
    """R-A1/A2/A3: local receipt date + ``months``, rolled to a working day, due at its very end."""
    receipt = calendar.local_date(require_aware(received_at, "received_at"))
    return calendar.end_of_day(calendar.next_working_day(add_calendar_month(receipt, months)))


def internal_target(
    received_at: datetime,
    calendar: WorkCalendar = _DEFAULT_CALENDAR,
    working_days: int = 20,
    legal: datetime | None = None,
) -> datetime:
    """R-A4: the team's own earlier target; the legal term is a ceiling, so it never lies beyond it."""
    receipt = calendar.local_date(require_aware(received_at, "received_at"))
    target = calendar.end_of_day(calendar.add_working_days(receipt, working_days))
    return min(target, legal if legal is not None else legal_due(received_at, calendar))


def first_response_due(
    received_at: datetime,
    hours: int = 48,
    mode: HoursMode = "calendar",
    calendar: WorkCalendar = _DEFAULT_CALENDAR,
    day_start: time = time(9),
    day_end: time = time(17),
) -> datetime:
    """R-B1: ``hours`` after receipt — real elapsed hours by default (weekends and DST included),
    or working hours between ``day_start`` and ``day_end`` on working days for companies that
    promise that instead."""
    require_aware(received_at, "received_at")
    if hours < 0:
        raise ValueError("hours must not be negative")
    if mode == "calendar":
        return received_at.astimezone(UTC) + timedelta(hours=hours)
    if mode != "business":
        raise ValueError(f"unknown hours mode {mode!r}")
    if day_start >= day_end:
        raise ValueError("day_start must be before day_end")
    # Wall-clock arithmetic on naive local times: a working window never spans a DST switch (02:00-03:00).
    cursor = received_at.astimezone(calendar.tz).replace(tzinfo=None)
    remaining = timedelta(hours=hours)
    while True:
        day = cursor.date()
        opens, closes = datetime.combine(day, day_start), datetime.combine(day, day_end)
        if not calendar.is_working_day(day) or cursor >= closes:
            cursor = datetime.combine(calendar.next_working_day(day + timedelta(days=1)), day_start)
            continue
        cursor = max(cursor, opens)
        if remaining <= closes - cursor:
            return (cursor + remaining).replace(tzinfo=calendar.tz).astimezone(UTC)
        remaining -= closes - cursor
        cursor = closes


def complaint_resolution_due(
    received_at: datetime, weeks: int = 4, calendar: WorkCalendar = _DEFAULT_CALENDAR
) -> datetime:
    """R-B2: "at the latest within 4 weeks" — end of the local day ``weeks`` after receipt, or of
    the next working day when that day is none."""
    receipt = calendar.local_date(require_aware(received_at, "received_at"))
    return calendar.end_of_day(calendar.next_working_day(receipt + timedelta(weeks=weeks)))


@dataclass(frozen=True)
class Extension:
    """One recorded R-A5 extension decision (the notice with ``reason`` goes to the requester)."""

    months: int
    reason: str
    decided_at: datetime


class ExtensionRefused(ValueError):
    """The law does not allow this extension; the message says why (shown to staff, no personal data)."""


MAX_EXTRA_MONTHS = 2


def extend(
    received_at: datetime,
    now: datetime,
    calendar: WorkCalendar,
    existing: Sequence[Extension],
    months: int,
    reason: str,
) -> datetime:
    """R-A5: check an extension request and return the new legal due (receipt + 1 + all extra months,
    then R-A3). Refused for anything but 1 or 2 months, beyond two extra months in total, without a
    reason, or once the original one-month term has ended (the requester must be told within it)."""
    require_aware(now, "now")
    if months not in (1, 2):
        raise ExtensionRefused("an extension is 1 or 2 months")
    if not reason or not reason.strip():
        raise ExtensionRefused("an extension needs a reason, and the requester must be told it")
    total = sum(e.months for e in existing) + months
    if total > MAX_EXTRA_MONTHS:
        raise ExtensionRefused(f"at most {MAX_EXTRA_MONTHS} further months in total")
    if now > legal_due(received_at, calendar):
        raise ExtensionRefused("the first term has ended; extension is no longer allowed")
    return legal_due(received_at, calendar, months=1 + total)


def conservative_extended_due(received_at: datetime, calendar: WorkCalendar, extra_months: int) -> datetime:
    """R-A5 decision: the original one-month end date + ``extra_months`` (then R-A3). Where month
    lengths differ this is earlier than receipt + 3 months (31 Jan: 28 Apr vs 30 Apr), and showing
    both keeps staff on the safe side of a reading the sources leave open."""
    receipt = calendar.local_date(require_aware(received_at, "received_at"))
    end = add_calendar_month(add_calendar_month(receipt, 1), extra_months)
    return calendar.end_of_day(calendar.next_working_day(end))


@dataclass(frozen=True)
class Pause:
    """An identity-check pause (R-A7): from the question going out to the answer (None: still open)."""

    started: datetime
    ended: datetime | None = None


def paused_due(
    legal: datetime,
    received_at: datetime,
    pauses: Sequence[Pause],
    calendar: WorkCalendar = _DEFAULT_CALENDAR,
    *,
    months: int = 1,
    max_question_delay_working_days: int = 5,
    now: datetime | None = None,
) -> datetime:
    """R-A7: the legal due moved on by the days the clock was paused for an identity check.

    ``legal`` is the unadjusted due for ``months`` (1 + extensions); it is still shown beside the
    result. Only pauses whose question went out within the allowed delay and before ``legal`` count;
    overlapping pauses count each day once.
    """
    if legal != legal_due(received_at, calendar, months):
        raise ValueError("legal does not match received_at and months")
    receipt = calendar.local_date(received_at)
    latest_question = calendar.add_working_days(receipt, max_question_delay_working_days)
    paused: set[date] = set()
    for pause in pauses:
        start = max(calendar.local_date(pause.started), receipt)
        if start > latest_question or pause.started > legal:
            continue
        end_moment = pause.ended if pause.ended is not None else now
        if end_moment is None:
            continue
        end = calendar.local_date(end_moment)
        paused.update(start + timedelta(days=i) for i in range((end - start).days))
    if not paused:
        return legal
    end_date = add_calendar_month(receipt, months) + timedelta(days=len(paused))
    return calendar.end_of_day(calendar.next_working_day(end_date))


def _automated_opens_nothing() -> Mapping[Category, int | None]:
    return MappingProxyType({Category.AUTOMATED: None})


@dataclass(frozen=True)
class DeadlinePolicy:
    """The configurable part of the deadline rules; defaults are the company's promises and the law."""

    first_response_hours: int = 48
    hours_mode: HoursMode = "calendar"
    day_start: time = time(9)
    day_end: time = time(17)
    internal_target_working_days: int = 20
    complaint_resolution_weeks: int = 4
    identity_question_max_delay_working_days: int = 5
    #: Per-category override of ``first_response_hours``; None means no first-answer deadline.
    per_category_first_response: Mapping[Category, int | None] = field(
        default_factory=_automated_opens_nothing
    )

    def first_response_hours_for(self, category: Category) -> int | None:
        return self.per_category_first_response.get(category, self.first_response_hours)


@dataclass(frozen=True)
class Deadlines:
    """Everything due on one ticket. ``legal_due`` is the effective (extended, paused) GDPR end;
    ``legal_due_unpaused`` and ``legal_due_conservative`` are shown beside it (R-A7, R-A5)."""

    first_response_due: datetime | None
    legal_due: datetime | None = None
    internal_due: datetime | None = None
    resolution_due: datetime | None = None
    legal_due_unpaused: datetime | None = None
    legal_due_conservative: datetime | None = None

    def by_name(self) -> dict[str, datetime | None]:
        """The mapping the reminder ladder reads (``ladder.plan_steps``)."""
        return {
            "first_response": self.first_response_due,
            "legal": self.legal_due,
            "internal": self.internal_due,
            "resolution": self.resolution_due,
        }


def compute_deadlines(
    category: Category,
    received_at: datetime,
    policy: DeadlinePolicy | None = None,
    calendar: WorkCalendar = _DEFAULT_CALENDAR,
    *,
    extensions: Sequence[Extension] = (),
    pauses: Sequence[Pause] = (),
    now: datetime | None = None,
) -> Deadlines:
    """All deadlines of a ticket of ``category``; recomputable at any time from its recorded
    extensions and pauses, so nothing derived needs storing except for queries."""
    policy = policy or DeadlinePolicy()
    require_aware(received_at, "received_at")
    hours = policy.first_response_hours_for(category)
    first = (
        None
        if hours is None
        else first_response_due(
            received_at, hours, policy.hours_mode, calendar, policy.day_start, policy.day_end
        )
    )
    if category in GDPR_CATEGORIES:
        extra = sum(e.months for e in extensions)
        unpaused = legal_due(received_at, calendar, months=1 + extra)
        legal = paused_due(
            unpaused,
            received_at,
            pauses,
            calendar,
            months=1 + extra,
            max_question_delay_working_days=policy.identity_question_max_delay_working_days,
            now=now,
        )
        conservative = conservative_extended_due(received_at, calendar, extra) if extra else None
        return Deadlines(
            first_response_due=first,
            legal_due=legal,
            internal_due=internal_target(
                received_at, calendar, policy.internal_target_working_days, unpaused
            ),
            legal_due_unpaused=unpaused,
            legal_due_conservative=conservative if conservative != unpaused else None,
        )
    if category is Category.COMPLAINT:
        resolution = complaint_resolution_due(received_at, policy.complaint_resolution_weeks, calendar)
        return Deadlines(first_response_due=first, resolution_due=resolution)
    return Deadlines(first_response_due=first)


def past_internal_target(deadlines: Deadlines, now: datetime, legal_met: bool = False) -> bool:
    """Case 11: the digest lists GDPR tickets past the internal target but still before the legal due."""
    require_aware(now, "now")
    if legal_met or deadlines.internal_due is None or deadlines.legal_due is None:
        return False
    return deadlines.internal_due <= now < deadlines.legal_due
