"""What an acknowledgement may promise for the first answer (issue 17).

The internal ladder counts the 48 hours in clock hours (``deadlines.first_response_due``: earlier,
stricter); a letter that printed that moment would promise contact on a Sunday or on Koningsdag.
So the letter gets its own pure moment, by default the hours counted over working days only
(24 hours per working day, weekends and the calendar's public holidays skipped): received Friday
15:00 → Tuesday 15:00. ``calendar`` and ``business`` promise what the ladder would count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from mailbot.domain.calendar import WorkCalendar, require_aware
from mailbot.domain.deadlines import DeadlinePolicy, first_response_due

#: How the acknowledgement counts the hours it promises; the ladder keeps ``HoursMode``.
PromiseMode = Literal["working_days", "calendar", "business"]

_DEFAULT_CALENDAR = WorkCalendar()


def working_days_due(
    received_at: datetime, hours: int = 48, calendar: WorkCalendar = _DEFAULT_CALENDAR
) -> datetime:
    """The moment a letter may promise: ``hours`` counted over working days only, 24 hours each.

    Weekends and the calendar's public holidays do not count, so a promise never falls on a day
    nobody is there to keep it (issue 17): received Friday 15:00 → Tuesday 15:00, received on a
    Saturday → counted from Monday 00:00. Local wall-clock time, so a working day is 24 hours
    even across a DST switch. A count that ends exactly at midnight gives the last microsecond of
    the working day (one microsecond stricter) rather than the first of a Saturday or holiday.
    Never earlier than the calendar-hours ``first_response_due`` the internal ladder uses.
    """
    require_aware(received_at, "received_at")
    if hours < 0:
        raise ValueError("hours must not be negative")
    cursor = received_at.astimezone(calendar.tz).replace(tzinfo=None)
    remaining = timedelta(hours=hours)
    while True:
        day = cursor.date()
        if not calendar.is_working_day(day):
            cursor = datetime.combine(calendar.next_working_day(day), time())
            continue
        closes = datetime.combine(day + timedelta(days=1), time())
        if remaining < closes - cursor:
            return _local_to_utc(cursor + remaining, calendar)
        if remaining == closes - cursor:
            return calendar.end_of_day(day)
        remaining -= closes - cursor
        cursor = closes


def _local_to_utc(local: datetime, calendar: WorkCalendar) -> datetime:
    """A naive local wall time as UTC; a time inside the spring-forward gap reads as the later
    offset (fold=0), never a moment before the wall time a reader sees."""
    return local.replace(tzinfo=calendar.tz).astimezone(UTC)


@dataclass(frozen=True)
class ResponsePromise:
    """What an acknowledgement promises for the first answer (issue 17): by default ``hours``
    over working days (``working_days_due``); ``calendar`` promises the internal ladder's clock
    hours, ``business`` office hours between ``day_start`` and ``day_end``."""

    hours: int = 48
    mode: PromiseMode = "working_days"
    calendar: WorkCalendar = _DEFAULT_CALENDAR
    day_start: time = time(9)
    day_end: time = time(17)

    def due(self, received_at: datetime, hours: int | None = None) -> datetime:
        """The promised moment for a message received at ``received_at`` (``hours`` overrides)."""
        count = self.hours if hours is None else hours
        if self.mode == "working_days":
            return working_days_due(received_at, count, self.calendar)
        if self.mode == "calendar" or self.mode == "business":
            return first_response_due(
                received_at, count, self.mode, self.calendar, self.day_start, self.day_end
            )
        raise ValueError(f"unknown promise mode {self.mode!r}")


#: The embedded default: 48 hours on working days of the Dutch calendar.
DEFAULT_PROMISE = ResponsePromise()

#: ``working_days_due`` ends a count at a day's last microsecond, not the next midnight: the same moment.
_SAME_MOMENT = timedelta(microseconds=1)


def promise_before_ladder(
    promise: ResponsePromise, policy: DeadlinePolicy, week_of: date = date(2026, 1, 5)
) -> datetime | None:
    """A receipt moment (every hour of one week from ``week_of``) at which the letter would promise
    an answer *before* the internal ladder's first-response deadline, or None. With clock hours on
    the ladder that never happens; with office hours on the ladder (``hours_mode = "business"``)
    and working days in the letter it does, and staff would be reminded after the promise broke —
    ``check-config`` says so."""
    calendar = promise.calendar
    for hour in range(7 * 24):
        local = datetime.combine(week_of, time()) + timedelta(hours=hour)
        received = _local_to_utc(local, calendar)
        ladder = first_response_due(
            received,
            policy.first_response_hours,
            policy.hours_mode,
            calendar,
            policy.day_start,
            policy.day_end,
        )
        if promise.due(received) < ladder - _SAME_MOMENT:
            return received
    return None
