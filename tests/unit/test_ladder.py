"""The reminder/escalation ladder (issue 5 "Reminders and escalations"; R-B1, case 16), driven by an
injected clock: a simulated scheduler ticks over a ticket's life, restarts, and races itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailbot.domain.calendar import WorkCalendar
from mailbot.domain.deadlines import Extension, compute_deadlines, extend
from mailbot.domain.ladder import (
    DEFAULT_LADDER,
    LadderStep,
    make_steps,
    occurrence_key,
    overdue,
    plan_steps,
    validate_ladder,
)
from mailbot.domain.model import Category

AMS = ZoneInfo("Europe/Amsterdam")
CAL = WorkCalendar()
Ladder = Mapping[str, Sequence[LadderStep]]


def ams(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=AMS).astimezone(UTC)


def wall(moment: datetime) -> datetime:
    return moment.astimezone(AMS).replace(tzinfo=None)


class FakeScheduler:
    """Ticks like the deadline job: plan, then record each key once (the DB's unique constraint)."""

    def __init__(self, store: set[str], log: list[tuple[datetime, str]]) -> None:
        self.store = store
        self.log = log

    def tick(
        self,
        deadlines: Mapping[str, datetime | None],
        met: Mapping[str, bool],
        now: datetime,
        ladder: Ladder = DEFAULT_LADDER,
    ) -> None:
        for due in plan_steps(deadlines, met, frozenset(self.store), now, ladder).send:
            if due.key in self.store:  # unique constraint: the other scheduler won
                continue
            self.store.add(due.key)
            self.log.append((now, due.step.key))


def run(
    scheduler: FakeScheduler,
    deadlines: Mapping[str, datetime | None],
    start: datetime,
    end: datetime,
    every: timedelta,
    met: Mapping[str, bool] | None = None,
) -> None:
    now = start
    while now <= end:
        scheduler.tick(deadlines, met or {}, now)
        now += every


FRIDAY_17 = ams(2026, 3, 6, 17)  # case 16: a klacht on Friday at 17:00


def complaint_deadlines() -> dict[str, datetime | None]:
    return compute_deadlines(Category.COMPLAINT, FRIDAY_17).by_name()


def test_ticket_walks_through_every_first_response_step_once() -> None:
    """Default ladder: remind at -24 h (Sat 17:00) and -6 h (Sun 11:00), escalate at the breach
    (Sun 17:00) and 24 h later (Mon 17:00), each exactly once, at the first tick after its time."""
    log: list[tuple[datetime, str]] = []
    run(
        FakeScheduler(set(), log),
        complaint_deadlines(),
        FRIDAY_17,
        ams(2026, 3, 10, 17),
        timedelta(minutes=10),
    )
    assert [(wall(t), key) for t, key in log] == [
        (datetime(2026, 3, 7, 17, 0), "first_response:remind-24h"),
        (datetime(2026, 3, 8, 11, 0), "first_response:remind-6h"),
        (datetime(2026, 3, 8, 17, 0), "first_response:escalate"),
        (datetime(2026, 3, 9, 17, 0), "first_response:escalate+24h"),
    ]


def test_case_16_r_b1_ladder_escalates_saturday_17_and_sunday_09() -> None:
    """Case 16 / R-B1: the rules page's points (24 h and 40 h after receipt) as a configured ladder;
    the issue's default keeps R-B1's 24 h point but takes 6 h before due instead of 40 h after."""
    rb1 = {"first_response": make_steps("first_response", (timedelta(hours=24), timedelta(hours=8)), ())}
    deadlines = complaint_deadlines()
    due = deadlines["first_response"]
    assert due is not None and wall(due) == datetime(2026, 3, 8, 17, 0)
    assert [wall(s.fire_at(due)) for s in rb1["first_response"]] == [
        datetime(2026, 3, 7, 17, 0),
        datetime(2026, 3, 8, 9, 0),
    ]
    log: list[tuple[datetime, str]] = []
    scheduler = FakeScheduler(set(), log)
    now = FRIDAY_17
    while now <= due:
        scheduler.tick(deadlines, {}, now, rb1)
        now += timedelta(minutes=30)
    assert [key for _, key in log] == ["first_response:remind-24h", "first_response:remind-8h"]


def test_restart_mid_run_sends_missed_steps_once_on_start() -> None:
    """Issue 5: down from Sat 18:00 to Mon 12:00 (missing -6 h and the breach): on start only the
    breach escalation goes out, the superseded reminder never does, and +24 h follows on time."""
    deadlines = complaint_deadlines()
    store: set[str] = set()
    log: list[tuple[datetime, str]] = []
    run(FakeScheduler(store, log), deadlines, FRIDAY_17, ams(2026, 3, 7, 18), timedelta(minutes=1))
    restarted = FakeScheduler(store, log)  # a new process, same database
    plan = plan_steps(deadlines, {}, frozenset(store), ams(2026, 3, 9, 12))
    assert [d.step.key for d in plan.skipped] == ["first_response:remind-6h"]
    run(restarted, deadlines, ams(2026, 3, 9, 12), ams(2026, 3, 12), timedelta(minutes=1))
    assert [(wall(t), key) for t, key in log] == [
        (datetime(2026, 3, 7, 17, 0), "first_response:remind-24h"),
        (datetime(2026, 3, 9, 12, 0), "first_response:escalate"),
        (datetime(2026, 3, 9, 17, 0), "first_response:escalate+24h"),
    ]


def test_down_through_the_whole_ladder_sends_one_step_and_marks_overdue() -> None:
    deadlines = complaint_deadlines()
    store: set[str] = set()
    log: list[tuple[datetime, str]] = []
    late = ams(2026, 3, 12, 9)
    run(FakeScheduler(store, log), deadlines, late, late + timedelta(days=3), timedelta(minutes=5))
    assert [key for _, key in log] == ["first_response:escalate+24h"]
    assert overdue(deadlines, {}, late) == {"first_response"}


def test_met_deadline_stops_the_ladder() -> None:
    """Issue 5: answered after the first reminder → no further reminder or escalation, not overdue."""
    deadlines = complaint_deadlines()
    store: set[str] = set()
    log: list[tuple[datetime, str]] = []
    scheduler = FakeScheduler(store, log)
    run(scheduler, deadlines, FRIDAY_17, ams(2026, 3, 7, 20), timedelta(minutes=10))
    run(
        scheduler,
        deadlines,
        ams(2026, 3, 7, 20),
        ams(2026, 3, 11),
        timedelta(minutes=10),
        {"first_response": True},
    )
    assert [key for _, key in log] == ["first_response:remind-24h"]
    assert overdue(deadlines, {"first_response": True}, ams(2026, 3, 11)) == frozenset()


def test_step_missed_while_down_is_not_sent_when_the_deadline_was_met_meanwhile() -> None:
    deadlines = complaint_deadlines()
    assert plan_steps(deadlines, {"first_response": True}, frozenset(), ams(2026, 3, 9, 12)).send == ()


def test_two_schedulers_racing_send_each_step_once() -> None:
    """Both compute the same occurrence keys from the same state; the unique key lets one win."""
    deadlines = complaint_deadlines()
    store: set[str] = set()
    log: list[tuple[datetime, str]] = []
    a, b = FakeScheduler(store, log), FakeScheduler(store, log)
    now = FRIDAY_17
    while now <= ams(2026, 3, 10):
        plan_a = plan_steps(deadlines, {}, frozenset(store), now)
        plan_b = plan_steps(deadlines, {}, frozenset(store), now)
        assert plan_a == plan_b
        a.tick(deadlines, {}, now)
        b.tick(deadlines, {}, now)
        now += timedelta(minutes=15)
    keys = [key for _, key in log]
    assert len(keys) == len(set(keys)) == 4


def test_gdpr_ticket_runs_both_ladders_independently() -> None:
    received = ams(2026, 3, 5)
    deadlines = compute_deadlines(Category.ACCESS, received).by_name()
    log: list[tuple[datetime, str]] = []
    run(FakeScheduler(set(), log), deadlines, received, ams(2026, 4, 10), timedelta(hours=1), {})
    assert [key for _, key in log] == [
        "first_response:remind-24h",
        "first_response:remind-6h",
        "first_response:escalate",
        "first_response:escalate+24h",
        "legal:remind-7d",
        "legal:remind-2d",
        "legal:escalate",
        "legal:escalate+24h",
    ]
    legal_steps = [wall(t) for t, key in log if key.startswith("legal:")]
    # legal due: end of Tue 7 Apr (case 1); hourly ticks land on the next whole hour.
    assert legal_steps == [
        datetime(2026, 4, 1, 0, 0),
        datetime(2026, 4, 6, 0, 0),
        datetime(2026, 4, 8, 0, 0),
        datetime(2026, 4, 9, 0, 0),
    ]


def test_extension_re_arms_the_legal_ladder_for_the_new_date() -> None:
    """R-A5: the -7 d reminder for the original 2 Mar due does not cover the extended 30 Apr due."""
    received = ams(2026, 1, 31)
    before = compute_deadlines(Category.ACCESS, received).by_name()
    store: set[str] = set()
    log: list[tuple[datetime, str]] = []
    scheduler = FakeScheduler(store, log)
    met = {"first_response": True}
    run(scheduler, before, ams(2026, 2, 24), ams(2026, 2, 25), timedelta(hours=1), met)
    assert [key for _, key in log] == ["legal:remind-7d"]
    extension = Extension(2, "Complex", ams(2026, 2, 25))
    extended = extend(received, extension.decided_at, CAL, [], extension.months, extension.reason)
    after = compute_deadlines(Category.ACCESS, received, extensions=[extension]).by_name()
    assert after["legal"] == extended
    run(scheduler, after, ams(2026, 2, 25), ams(2026, 4, 24, 12), timedelta(hours=1), met)
    assert [key for _, key in log] == ["legal:remind-7d", "legal:remind-7d"]
    assert len(store) == 2  # two occurrences, one per due date


def test_occurrence_key_names_step_and_due() -> None:
    step = DEFAULT_LADDER["first_response"][0]
    due = ams(2026, 3, 8, 17)
    assert occurrence_key(step, due) == "first_response:remind-24h@2026-03-08T16:00:00Z"
    with pytest.raises(ValueError):
        occurrence_key(step, datetime(2026, 3, 8, 17))


def test_default_ladder_shape() -> None:
    assert [(s.key, s.kind, s.offset) for s in DEFAULT_LADDER["legal"]] == [
        ("legal:remind-7d", "reminder", timedelta(days=-7)),
        ("legal:remind-2d", "reminder", timedelta(days=-2)),
        ("legal:escalate", "escalation", timedelta(0)),
        ("legal:escalate+24h", "escalation", timedelta(days=1)),
    ]
    validate_ladder(DEFAULT_LADDER)


def test_bad_ladder_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        LadderStep("legal:remind", "legal", "reminder", timedelta(hours=1))
    with pytest.raises(ValueError):
        LadderStep("legal:escalate", "legal", "escalation", timedelta(hours=-1))
    with pytest.raises(ValueError):
        LadderStep("other:remind", "legal", "reminder", timedelta(hours=-1))
    with pytest.raises(ValueError):
        LadderStep("legal:nudge", "legal", "nudge", timedelta(hours=-1))  # type: ignore[arg-type]
    twice = make_steps("legal", (timedelta(days=1), timedelta(hours=24)), ())
    with pytest.raises(ValueError, match="duplicate"):
        validate_ladder({"legal": twice})
    with pytest.raises(ValueError, match="listed under"):
        validate_ladder({"first_response": DEFAULT_LADDER["legal"]})


def test_no_deadline_no_steps() -> None:
    """Automated mail opens no deadline, so the ladder never fires for it."""
    deadlines = compute_deadlines(Category.AUTOMATED, FRIDAY_17).by_name()
    assert plan_steps(deadlines, {}, frozenset(), ams(2026, 6, 1)).send == ()
    assert overdue(deadlines, {}, ams(2026, 6, 1)) == frozenset()
