"""The working-day calendar behind R-A3 rollovers and business-hours deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mailbot.domain.calendar import WorkCalendar, atw_holidays

CAL = WorkCalendar()


def test_r_a3_2026_weekday_holidays_are_exactly_the_rules_page_list() -> None:
    """R-A3 / test-case header: NL 2026 = 1 Jan, 3 Apr, 6 Apr, 27 Apr, 5 May, 14 May, 25 May, 25-26 Dec."""
    listed = {
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 4, 27),
        date(2026, 5, 5),
        date(2026, 5, 14),
        date(2026, 5, 25),
        date(2026, 12, 25),
        date(2026, 12, 26),
    }
    year = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    weekday_holidays = {d for d in year if d.weekday() < 5 and CAL.is_holiday(d)}
    assert weekday_holidays == {d for d in listed if d.weekday() < 5}
    assert all(CAL.is_holiday(d) and not CAL.is_working_day(d) for d in listed)


@pytest.mark.parametrize("year", [2026, 2027, 2028, 2029])
def test_r_a3_goede_vrijdag_and_5_mei_count_every_year(year: int) -> None:
    """R-A3: the Atw counts Goede Vrijdag and 5 mei every year (holidays.NL: 5 May in lustrum years only)."""
    good_friday = {
        2026: date(2026, 4, 3),
        2027: date(2027, 3, 26),
        2028: date(2028, 4, 14),
        2029: date(2029, 3, 30),
    }
    assert good_friday[year] in atw_holidays(year)
    assert date(year, 5, 5) in atw_holidays(year)


def test_r_a3_koningsdag_moves_to_26_april_when_27_april_is_a_sunday() -> None:
    """R-A3: in 2025, 27 Apr is a Sunday, so Koningsdag is Saturday 26 Apr; Monday 28 Apr is a working day."""
    assert date(2025, 4, 27).weekday() == 6
    assert CAL.is_holiday(date(2025, 4, 26))
    assert CAL.is_working_day(date(2025, 4, 28))


def test_r_a3_ordinary_days_are_working_days() -> None:
    assert CAL.is_working_day(date(2026, 4, 28))  # Tuesday after Koningsdag
    assert not CAL.is_working_day(date(2026, 3, 7))  # Saturday
    assert not CAL.is_working_day(date(2026, 3, 8))  # Sunday


def test_r_a3_atw_equivalent_days_are_data() -> None:
    """R-A3 / case 5: the Friday after Ascension becomes a holiday only when configured."""
    friday = date(2026, 5, 15)
    assert CAL.is_working_day(friday)
    assert not WorkCalendar(extra_holidays=frozenset({friday})).is_working_day(friday)


def test_next_working_day_is_on_or_after() -> None:
    assert CAL.next_working_day(date(2026, 4, 28)) == date(2026, 4, 28)
    assert CAL.next_working_day(date(2026, 4, 4)) == date(2026, 4, 7)  # Sat, Easter Sunday, Easter Monday
    assert CAL.next_working_day(date(2026, 12, 25)) == date(2026, 12, 28)


def test_add_working_days_skips_weekends_and_holidays() -> None:
    assert CAL.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)  # over Easter
    assert CAL.add_working_days(date(2026, 3, 2), 20) == date(2026, 3, 30)
    assert CAL.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2026, 3, 2), -1)


def test_end_of_day_follows_daylight_saving() -> None:
    """A local day ends at 22:59:59.999999Z in winter and 21:59:59.999999Z in summer."""
    assert CAL.end_of_day(date(2026, 3, 28)) == datetime(2026, 3, 28, 22, 59, 59, 999999, tzinfo=UTC)
    assert CAL.end_of_day(date(2026, 3, 29)) == datetime(2026, 3, 29, 21, 59, 59, 999999, tzinfo=UTC)


def test_local_date_is_read_in_the_calendar_zone_and_refuses_naive_times() -> None:
    assert CAL.local_date(datetime(2026, 3, 31, 22, 0, 30, tzinfo=UTC)) == date(2026, 4, 1)
    with pytest.raises(ValueError):
        CAL.local_date(datetime(2026, 3, 31, 22, 0, 30))


def test_unknown_zone_is_refused_at_configuration() -> None:
    with pytest.raises(Exception, match="Nowhere"):
        WorkCalendar(zone="Europe/Nowhere")
