"""What the acknowledgement promises (issue 17): 48 hours counted over working days only.

The internal ladder keeps ``first_response_due`` (clock hours, earlier and stricter); the letter
must never name a Sunday or a public holiday as the moment head office will have answered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import DeadlinePolicy, complaint_resolution_due, first_response_due
from mailbot.domain.promise import ResponsePromise, promise_before_ladder, working_days_due

AMS = ZoneInfo("Europe/Amsterdam")
CAL = WorkCalendar()


def ams(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=AMS).astimezone(UTC)


def local(moment: datetime) -> datetime:
    return moment.astimezone(AMS)


@pytest.mark.parametrize(
    ("received", "expected", "why"),
    [
        (ams(2026, 12, 4, 15), ams(2026, 12, 8, 15), "Friday 15:00: the weekend does not count"),
        (ams(2026, 12, 7, 9), ams(2026, 12, 9, 9), "Monday: two plain working days"),
        (ams(2027, 4, 26, 10), ams(2027, 4, 29, 10), "Koningsdag (Tue 27 April 2027) skipped"),
        (ams(2026, 12, 24, 12), ams(2026, 12, 29, 12), "both Kerstdagen and the weekend skipped"),
        (ams(2026, 12, 31, 9), ams(2027, 1, 5, 9), "Nieuwjaarsdag (Fri 1 January 2027) skipped"),
        (ams(2026, 3, 27, 15), ams(2026, 3, 31, 15), "DST starts Sun 29 March: still 15:00 local"),
        (ams(2026, 10, 23, 15), ams(2026, 10, 27, 15), "DST ends Sun 25 October: still 15:00 local"),
    ],
)
def test_promise_counts_working_days_only(received: datetime, expected: datetime, why: str) -> None:
    promised = working_days_due(received, 48, CAL)
    assert promised == expected, why
    assert promised.tzinfo is UTC
    assert CAL.is_working_day(local(promised).date())


def test_dst_promise_is_wall_clock_not_elapsed_hours() -> None:
    """Across the spring switch the working days are counted on the clock on the wall: the
    promise says 15:00 as the receipt did, one real hour fewer than 96 elapsed."""
    received = ams(2026, 3, 27, 15)
    assert working_days_due(received, 48, CAL) - received == timedelta(hours=95)


def test_receipt_on_a_weekend_counts_from_monday_and_ends_on_a_working_day() -> None:
    """Saturday 10:00: Monday and Tuesday are the 48 hours; the promise is the very end of
    Tuesday, not "Wednesday 00:00" and never a Saturday or holiday midnight."""
    promised = local(working_days_due(ams(2026, 12, 5, 10), 48, CAL))
    assert promised.date() == date(2026, 12, 8) and promised.time() == time.max


def test_count_ending_at_midnight_before_a_holiday_stays_on_the_working_day() -> None:
    """Wednesday 00:00 before Goede Vrijdag 2027 (26 March): 48 hours end as Thursday ends."""
    promised = local(working_days_due(ams(2027, 3, 24, 0), 48, CAL))
    assert promised.date() == date(2027, 3, 25) and promised.time() == time.max


def test_company_closing_days_are_skipped_too() -> None:
    closed = WorkCalendar(extra_holidays=frozenset({date(2026, 12, 8)}))
    assert working_days_due(ams(2026, 12, 4, 15), 48, closed) == ams(2026, 12, 9, 15)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        working_days_due(datetime(2026, 12, 4, 15), 48, CAL)
    with pytest.raises(ValueError, match="negative"):
        working_days_due(ams(2026, 12, 4), -1, CAL)
    with pytest.raises(ValueError, match="unknown promise mode"):
        ResponsePromise(mode="weekly").due(ams(2026, 12, 4))  # type: ignore[arg-type]


def test_promise_modes() -> None:
    received = ams(2026, 12, 4, 15)
    assert ResponsePromise().due(received) == ams(2026, 12, 8, 15)
    assert ResponsePromise(mode="calendar").due(received) == first_response_due(received, 48)
    assert ResponsePromise(mode="calendar").due(received) == ams(2026, 12, 6, 15)  # a Sunday
    business = ResponsePromise(mode="business", day_start=time(9), day_end=time(17))
    assert business.due(received) == first_response_due(received, 48, "business", CAL)
    assert ResponsePromise(hours=24).due(received) == ams(2026, 12, 7, 15)
    assert ResponsePromise().due(received, hours=24) == ams(2026, 12, 7, 15)


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
    st.integers(min_value=1, max_value=120),
)
@example(datetime(2026, 12, 6, 23, 0), 48)  # Monday 00:00 Amsterdam: the count ends at midnight
def test_promise_is_never_earlier_than_the_ladder_and_never_on_a_closed_day(
    naive: datetime, hours: int
) -> None:
    received = naive.replace(tzinfo=UTC)
    promised = working_days_due(received, hours, CAL)
    # A count ending at midnight gives the day's last microsecond: the same moment, never earlier.
    assert promised >= first_response_due(received, hours) - timedelta(microseconds=1)
    assert CAL.is_working_day(local(promised).date())


def test_check_config_warns_only_when_the_letter_promises_before_the_ladder() -> None:
    """Clock hours on the ladder are always earlier than working days; office hours on the ladder
    (48 office hours = six working days) are later than two working days: that is warned about."""
    assert promise_before_ladder(ResponsePromise(), DeadlinePolicy()) is None
    assert (
        promise_before_ladder(ResponsePromise(mode="business"), DeadlinePolicy(hours_mode="business")) is None
    )
    assert promise_before_ladder(ResponsePromise(), DeadlinePolicy(hours_mode="business")) is not None


def test_complaint_term_ending_on_new_years_day_2027_moves_to_monday() -> None:
    """Issue 17: "uiterlijk op vrijdag 1 januari 2027" would be Nieuwjaarsdag. Received Friday
    4 December 2026, four weeks later is 1 January 2027: the decision is due as Monday 4 January
    ends (Saturday and Sunday skipped too)."""
    due = local(complaint_resolution_due(ams(2026, 12, 4, 11), 4, CAL))
    assert due.date() == date(2027, 1, 4) and due.time() == time.max
