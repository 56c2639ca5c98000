"""Deadline policy: the GDPR month (R-A1..A7), the 48-hour answer (R-B1), the complaint term (R-B2).

Case numbers refer to "Test cases these rules imply → Deadlines" in shared/docs/domain-rules.md.
"""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import (
    DeadlinePolicy,
    Extension,
    ExtensionRefused,
    Pause,
    add_calendar_month,
    complaint_resolution_due,
    compute_deadlines,
    conservative_extended_due,
    extend,
    first_response_due,
    internal_target,
    legal_due,
    past_internal_target,
    paused_due,
)
from mailbot.domain.model import GDPR_CATEGORIES, Category

AMS = ZoneInfo("Europe/Amsterdam")
CAL = WorkCalendar()


def ams(y: int, m: int, d: int, h: int = 10, mi: int = 0, s: int = 0) -> datetime:
    """A local Amsterdam wall-clock time, as the UTC instant mailbot stores."""
    return datetime(y, m, d, h, mi, s, tzinfo=AMS).astimezone(UTC)


def local(moment: datetime) -> datetime:
    return moment.astimezone(AMS)


def assert_end_of_local_day(moment: datetime, expected: date) -> None:
    assert moment.tzinfo is UTC
    assert local(moment).date() == expected
    assert local(moment).time() == time.max


# --- R-A2: calendar months ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 3, 5), 1, date(2026, 4, 5)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 1, 29), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2028, 2, 29), 1, date(2028, 3, 29)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 11, 15), 0, date(2026, 11, 15)),
    ],
)
def test_r_a2_same_date_next_month_else_last_day(start: date, months: int, expected: date) -> None:
    """R-A2: 5 Mar → 5 Apr; 31 Aug → 30 Sep; 31 Jan → 28/29 Feb; never rolled over to 1 May."""
    assert add_calendar_month(start, months) == expected


def test_r_a2_negative_months_are_refused() -> None:
    with pytest.raises(ValueError):
        add_calendar_month(date(2026, 3, 5), -1)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31)), st.integers(0, 36))
def test_r_a2_property_same_day_or_last_day_of_the_target_month(start: date, months: int) -> None:
    end = add_calendar_month(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    is_last_day = (end + timedelta(days=1)).day == 1
    assert end.day == start.day or (end.day < start.day and is_last_day)


# --- Cases 1-7, 10: the one-month legal due -------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected", "case"),
    [
        (ams(2026, 3, 5), date(2026, 4, 7), "1: 5 Apr Easter Sunday, 6 Apr 2e Paasdag -> Tue 7 Apr"),
        (ams(2026, 1, 29), date(2026, 3, 2), "2: 28 Feb Sat -> Mon 2 Mar"),
        (ams(2026, 1, 30), date(2026, 3, 2), "2"),
        (ams(2026, 1, 31), date(2026, 3, 2), "2 (Sat 31 Jan)"),
        (ams(2026, 8, 31), date(2026, 9, 30), "3: Wed 30 Sep"),
        (ams(2028, 1, 31), date(2028, 2, 29), "3: leap year, Tue 29 Feb 2028"),
        (ams(2026, 3, 27), date(2026, 4, 28), "4: 27 Apr Koningsdag -> Tue 28 Apr"),
        (ams(2026, 4, 14), date(2026, 5, 15), "5: 14 May Hemelvaart -> Fri 15 May"),
        (ams(2026, 11, 26), date(2026, 12, 28), "6: Sat 26 Dec -> Mon 28 Dec"),
        (ams(2026, 12, 24), date(2027, 1, 25), "6: Sun 24 Jan 2027 -> Mon 25 Jan"),
        (ams(2026, 3, 31), date(2026, 4, 30), "R-A2: 31 Mar -> 30 Apr, not 1 May"),
    ],
)
def test_cases_1_to_6_legal_due_rolls_to_the_end_of_the_next_working_day(
    received: datetime, expected: date, case: str
) -> None:
    """R-A2/R-A3, cases 1-6: the due is the end of the (rolled-over) last day, local time."""
    assert_end_of_local_day(legal_due(received, CAL), expected)


def test_case_5_friday_after_ascension_configured_as_atw_equivalent() -> None:
    """Case 5: with 15 May 2026 declared equivalent under Atw art. 3(3), the term runs to Mon 18 May."""
    calendar = WorkCalendar(extra_holidays=frozenset({date(2026, 5, 15)}))
    assert_end_of_local_day(legal_due(ams(2026, 4, 14), calendar), date(2026, 5, 18))


def test_case_7_receipt_date_is_the_local_internaldate_not_the_utc_date() -> None:
    """Case 7 / R-A1: 31 Mar 23:59:30 Amsterdam (21:59:30Z) is received 31 Mar → Thu 30 Apr; half a
    minute past local midnight (still 31 Mar in UTC) it is 1 Apr → Fri 1 May."""
    internaldate = datetime(2026, 3, 31, 21, 59, 30, tzinfo=UTC)
    assert_end_of_local_day(legal_due(internaldate, CAL), date(2026, 4, 30))
    just_after_midnight = datetime(2026, 3, 31, 22, 0, 30, tzinfo=UTC)
    assert_end_of_local_day(legal_due(just_after_midnight, CAL), date(2026, 5, 1))


def test_case_7_naive_receipt_times_are_refused() -> None:
    """R-A1: a naive time (e.g. a `Date:` header without zone) cannot be placed on the calendar."""
    with pytest.raises(ValueError):
        legal_due(datetime(2026, 3, 31, 23, 59, 30), CAL)


def test_case_10_deadline_does_not_depend_on_which_address_received_it() -> None:
    """Case 10 / R-A1: info@ instead of privacy@ gives no extra time: the policy has no mailbox input."""
    params = set(inspect.signature(compute_deadlines).parameters) | set(
        inspect.signature(legal_due).parameters
    )
    assert not {p for p in params if any(w in p for w in ("address", "mailbox", "channel", "recipient"))}
    received = ams(2026, 3, 5)
    assert compute_deadlines(Category.ACCESS, received).legal_due == legal_due(received, CAL)


# --- R-A4 and case 11: the internal target ------------------------------------------------------------


def test_r_a4_internal_target_is_20_working_days_and_never_after_legal() -> None:
    received = ams(2026, 3, 2)
    legal = legal_due(received, CAL)
    assert_end_of_local_day(internal_target(received, CAL, 20, legal), date(2026, 3, 30))
    assert internal_target(received, CAL, 30, legal) == legal
    assert internal_target(received, CAL, 30) == legal


def test_case_11_digest_predicate_past_internal_target_before_legal() -> None:
    """Case 11: listed after the internal target (30 Mar) and before the legal due (2 Apr) only."""
    deadlines = compute_deadlines(Category.ERASURE, ams(2026, 3, 2))
    assert not past_internal_target(deadlines, ams(2026, 3, 30, 12))
    assert past_internal_target(deadlines, ams(2026, 3, 31, 12))
    assert past_internal_target(deadlines, ams(2026, 4, 2, 23, 59))
    assert not past_internal_target(deadlines, ams(2026, 4, 3, 0, 1))
    assert not past_internal_target(deadlines, ams(2026, 3, 31, 12), legal_met=True)
    assert not past_internal_target(compute_deadlines(Category.COMPLAINT, ams(2026, 3, 2)), ams(2026, 3, 31))


# --- R-A5 and case 8: extensions -----------------------------------------------------------------


def test_case_8_extension_by_two_months_and_conservative_date() -> None:
    """Case 8 / R-A5: receipt 31 Jan → extended end 30 Apr; conservative original + 2 months 28 Apr."""
    received = ams(2026, 1, 31)
    new_due = extend(received, ams(2026, 2, 20), CAL, [], 2, "Complex: five linked requests")
    assert_end_of_local_day(new_due, date(2026, 4, 30))
    assert_end_of_local_day(conservative_extended_due(received, CAL, 2), date(2026, 4, 28))
    shown = compute_deadlines(
        Category.ACCESS, received, extensions=[Extension(2, "Complex", ams(2026, 2, 20))]
    )
    assert shown.legal_due == new_due
    assert shown.legal_due_conservative == conservative_extended_due(received, CAL, 2)


def test_case_8_extension_after_the_first_term_is_refused() -> None:
    """Case 8 / R-A5: first term of a 31 Jan receipt ends Mon 2 Mar; an extension on 3 Mar is blocked."""
    received = ams(2026, 1, 31)
    assert extend(received, ams(2026, 3, 2, 23, 59), CAL, [], 1, "Complex")
    with pytest.raises(ExtensionRefused, match="ended"):
        extend(received, ams(2026, 3, 3, 9), CAL, [], 1, "Complex")


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_case_8_extension_without_a_reason_is_refused(reason: str) -> None:
    with pytest.raises(ExtensionRefused, match="reason"):
        extend(ams(2026, 1, 31), ams(2026, 2, 10), CAL, [], 1, reason)


def test_r_a5_at_most_two_further_months_in_total() -> None:
    received = ams(2026, 1, 31)
    first = Extension(1, "Many requests", ams(2026, 2, 5))
    second_due = extend(received, ams(2026, 2, 10), CAL, [first], 1, "Still complex")
    assert_end_of_local_day(second_due, date(2026, 4, 30))
    with pytest.raises(ExtensionRefused, match="at most 2"):
        extend(received, ams(2026, 2, 10), CAL, [first], 2, "More")
    for months in (0, 3, -1):
        with pytest.raises(ExtensionRefused):
            extend(received, ams(2026, 2, 10), CAL, [], months, "Complex")


def test_r_a5_one_month_extension_rolls_over_like_any_term() -> None:
    """R-A5 + R-A3: receipt 5 Mar + 2 months = Tue 5 May, 5 mei → Wed 6 May."""
    assert_end_of_local_day(extend(ams(2026, 3, 5), ams(2026, 3, 6), CAL, [], 1, "Complex"), date(2026, 5, 6))


def test_r_a5_no_conservative_date_shown_when_month_ends_agree() -> None:
    shown = compute_deadlines(
        Category.ACCESS, ams(2026, 3, 5), extensions=[Extension(1, "x", ams(2026, 3, 6))]
    )
    assert shown.legal_due_conservative is None


# --- R-A7 and case 9: identity-check pauses ------------------------------------------------------


def test_case_9_pause_asked_without_delay_moves_the_due_and_keeps_the_unadjusted() -> None:
    """Case 9: question 2 days after receipt, answered 5 days later → +5 days; unadjusted still shown."""
    received = ams(2026, 3, 2)
    pause = Pause(started=ams(2026, 3, 4), ended=ams(2026, 3, 9))
    shown = compute_deadlines(Category.ACCESS, received, pauses=[pause])
    assert_end_of_local_day(shown.legal_due_unpaused, date(2026, 4, 2))
    assert_end_of_local_day(shown.legal_due, date(2026, 4, 7))


def test_case_9_question_on_day_20_does_not_pause() -> None:
    received = ams(2026, 3, 2)
    legal = legal_due(received, CAL)
    late = Pause(started=ams(2026, 3, 22), ended=ams(2026, 3, 27))
    assert paused_due(legal, received, [late], CAL) == legal


def test_r_a7_paused_days_are_added_before_the_rollover() -> None:
    """R-A7 + R-A3: 27 Feb → 27 Mar; 7 paused days → Fri 3 Apr (Goede Vrijdag) → Tue 7 Apr."""
    received = ams(2026, 2, 27)
    legal = legal_due(received, CAL)
    adjusted = paused_due(legal, received, [Pause(ams(2026, 3, 3), ams(2026, 3, 10))], CAL)
    assert_end_of_local_day(adjusted, date(2026, 4, 7))


def test_r_a7_open_pause_counts_up_to_now_and_overlaps_count_once() -> None:
    received = ams(2026, 3, 2)
    legal = legal_due(received, CAL)
    open_pause = Pause(started=ams(2026, 3, 4))
    assert paused_due(legal, received, [open_pause], CAL) == legal  # no `now`: the safe, earlier date
    assert_end_of_local_day(
        paused_due(legal, received, [open_pause], CAL, now=ams(2026, 3, 6)), date(2026, 4, 7)
    )
    overlapping = [Pause(ams(2026, 3, 4), ams(2026, 3, 7)), Pause(ams(2026, 3, 5), ams(2026, 3, 9))]
    assert_end_of_local_day(paused_due(legal, received, overlapping, CAL), date(2026, 4, 7))


def test_r_a7_inconsistent_unadjusted_due_is_refused() -> None:
    received = ams(2026, 3, 2)
    with pytest.raises(ValueError):
        paused_due(legal_due(received, CAL, 3), received, [], CAL, months=1)


# --- R-B1: the 48-hour first answer, DST, business hours -----------------------------------------


def test_r_b1_48_calendar_hours_over_the_march_dst_weekend_are_48_real_hours() -> None:
    """Clocks go forward Sun 29 Mar 2026: Sat 12:00 CET + 48 h = Mon 13:00 CEST."""
    received = ams(2026, 3, 28, 12)
    due = first_response_due(received)
    assert due - received == timedelta(hours=48)
    assert local(due).replace(tzinfo=None) == datetime(2026, 3, 30, 13, 0)


def test_r_b1_48_calendar_hours_over_the_october_dst_weekend_are_48_real_hours() -> None:
    """Clocks go back Sun 25 Oct 2026: Sat 12:00 CEST + 48 h = Mon 11:00 CET."""
    received = ams(2026, 10, 24, 12)
    due = first_response_due(received)
    assert due - received == timedelta(hours=48)
    assert local(due).replace(tzinfo=None) == datetime(2026, 10, 26, 11, 0)


def test_r_a2_ambiguous_october_hour_has_one_receipt_date() -> None:
    """25 Oct 2026 02:30 happens twice locally; both instants are received on 25 Oct → Wed 25 Nov."""
    for instant in (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)):
        assert_end_of_local_day(legal_due(instant, CAL), date(2026, 11, 25))


def test_case_16_complaint_friday_17_00_due_sunday_17_00_and_four_week_decision() -> None:
    """Case 16 / R-B1, R-B2: klacht Fri 17:00 → Sun 17:00 (weekend counts); 2 Mar → decision 30 Mar."""
    friday = ams(2026, 3, 6, 17)
    shown = compute_deadlines(Category.COMPLAINT, friday)
    assert shown.first_response_due is not None
    assert local(shown.first_response_due).replace(tzinfo=None) == datetime(2026, 3, 8, 17, 0)
    assert shown.legal_due is None
    assert_end_of_local_day(complaint_resolution_due(ams(2026, 3, 2)), date(2026, 3, 30))
    assert_end_of_local_day(
        compute_deadlines(Category.COMPLAINT, ams(2026, 3, 2)).resolution_due, date(2026, 3, 30)
    )


def test_r_b2_resolution_weeks_are_configurable() -> None:
    policy = DeadlinePolicy(complaint_resolution_weeks=6)
    assert_end_of_local_day(
        compute_deadlines(Category.COMPLAINT, ams(2026, 3, 2), policy).resolution_due, date(2026, 4, 13)
    )


def business(received: datetime, hours: int, calendar: WorkCalendar = CAL) -> datetime:
    return local(first_response_due(received, hours, "business", calendar)).replace(tzinfo=None)


def test_business_hours_skip_the_weekend_and_kings_day() -> None:
    """Fri 24 Apr 2026 15:00 + 8 business hours: 2 h Friday, Sat, Sun, Mon 27 Apr Koningsdag → Tue 15:00."""
    assert business(ams(2026, 4, 24, 15), 8) == datetime(2026, 4, 28, 15, 0)


def test_business_hours_48_over_kings_day_and_5_mei() -> None:
    """Fri 24 Apr 15:00: Fri 2, Tue-Fri 32, Mon 4 May 8 (42), Tue 5 May closed, Wed 6 May 6 h → 15:00."""
    assert business(ams(2026, 4, 24, 15), 48) == datetime(2026, 5, 6, 15, 0)


def test_business_hours_edges_of_the_working_day() -> None:
    assert business(ams(2026, 3, 7, 10), 4) == datetime(2026, 3, 9, 13, 0)  # Saturday → Monday
    assert business(ams(2026, 3, 9, 7), 8) == datetime(2026, 3, 9, 17, 0)  # before opening, ends at close
    assert business(ams(2026, 3, 9, 18), 1) == datetime(2026, 3, 10, 10, 0)  # after close
    assert business(ams(2026, 3, 9, 16, 30), 1) == datetime(2026, 3, 10, 9, 30)  # spills over


def test_business_hours_across_the_dst_weekend() -> None:
    """Fri 27 Mar 16:00 CET + 2 business hours = Mon 30 Mar 10:00 CEST (08:00Z)."""
    due = first_response_due(ams(2026, 3, 27, 16), 2, "business", CAL)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_business_mode_from_policy_and_bad_configuration() -> None:
    policy = DeadlinePolicy(hours_mode="business", first_response_hours=8)
    shown = compute_deadlines(Category.OTHER, ams(2026, 4, 24, 15), policy)
    assert shown.first_response_due is not None
    assert local(shown.first_response_due).replace(tzinfo=None) == datetime(2026, 4, 28, 15, 0)
    with pytest.raises(ValueError):
        first_response_due(ams(2026, 3, 9), 8, "weekly", CAL)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        first_response_due(ams(2026, 3, 9), 8, "business", CAL, time(17), time(9))


# --- per category --------------------------------------------------------------------------------


def test_automated_mail_opens_no_deadline() -> None:
    shown = compute_deadlines(Category.AUTOMATED, ams(2026, 3, 2))
    assert shown.by_name() == {"first_response": None, "legal": None, "internal": None, "resolution": None}


@pytest.mark.parametrize("category", sorted(GDPR_CATEGORIES))
def test_r_a2_every_gdpr_request_gets_48_hours_legal_and_internal(category: Category) -> None:
    received = ams(2026, 3, 5)
    shown = compute_deadlines(category, received)
    assert shown.first_response_due == received + timedelta(hours=48)
    assert shown.legal_due == shown.legal_due_unpaused == legal_due(received, CAL)
    assert shown.internal_due is not None and shown.legal_due is not None
    assert shown.internal_due < shown.legal_due
    assert shown.resolution_due is None


@pytest.mark.parametrize("category", [Category.OTHER, Category.REPLY])
def test_other_tickets_get_only_the_first_answer(category: Category) -> None:
    received = ams(2026, 3, 5)
    shown = compute_deadlines(category, received)
    assert shown.first_response_due == received + timedelta(hours=48)
    assert (shown.legal_due, shown.internal_due, shown.resolution_due) == (None, None, None)


def test_first_response_hours_are_configurable_per_category() -> None:
    policy = DeadlinePolicy(per_category_first_response={Category.OTHER: 72, Category.AUTOMATED: None})
    received = ams(2026, 3, 5)
    assert compute_deadlines(Category.OTHER, received, policy).first_response_due == received + timedelta(
        hours=72
    )
    assert compute_deadlines(Category.COMPLAINT, received, policy).first_response_due == received + timedelta(
        hours=48
    )
    assert compute_deadlines(Category.AUTOMATED, received, policy).first_response_due is None


def test_complaint_term_skips_weekends_and_public_holidays() -> None:
    """Issue 17 / R-B2: four weeks after Friday 4 December 2026 is New Year's Day; the letter
    promises Monday 4 January 2027 instead; a term ending on a working day is unchanged."""
    from mailbot.domain.calendar import WorkCalendar
    from mailbot.domain.deadlines import complaint_resolution_due

    calendar = WorkCalendar()
    due = complaint_resolution_due(datetime(2026, 12, 4, 10, tzinfo=UTC), 4, calendar)
    assert calendar.local_date(due) == date(2027, 1, 4)
    plain = complaint_resolution_due(datetime(2026, 3, 3, 10, tzinfo=UTC), 4, calendar)
    assert calendar.local_date(plain) == date(2026, 3, 31)
