"""Reminders and escalations: which step of a deadline's ladder is due at a given ``now``.

The scheduler may tick every minute, run twice, or come back after hours of downtime; this module
makes all three give the same answer, because the answer is a pure function of the deadlines, what
was already sent, and ``now``:

- A step is *due* when ``due + offset <= now``, its deadline is not met, and its occurrence key is
  not in ``sent``. The caller records that key under a unique constraint per ticket before (or in the
  same transaction as) queueing the mail, so two schedulers cannot both send it.
- Of the due steps of one deadline only the latest is sent; earlier ones are *superseded* (reported
  as ``skipped`` so the caller may record them). So steps missed while mailbot was down come once on
  start — the most urgent one — and never trickle out later, because a superseded step stays
  superseded whatever is recorded.
- The occurrence key contains the due instant (``first_response:remind-24h@2026-03-08T16:00:00Z``):
  when an extension or pause moves a deadline, its ladder re-arms for the new date.

R-B1 suggests escalating complaints at 24 h and 40 h after receipt; issue 5 (which wins) asks for
reminders at 24 h and 6 h before the 48-hour due, an escalation at the breach and a second 24 h
later. ``DEFAULT_LADDER`` follows the issue; its first reminder coincides with R-B1's 24 h point, and
the R-B1 ladder is one ``make_steps`` call away for a company that wants it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Literal

from mailbot.domain.calendar import require_aware

StepKind = Literal["reminder", "escalation"]

_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class LadderStep:
    """One point on a deadline's ladder. ``key`` is stored in the database: never rename a shipped key."""

    key: str
    deadline: str
    kind: StepKind
    offset: timedelta  # negative: before the due time

    def __post_init__(self) -> None:
        if self.kind not in ("reminder", "escalation"):
            raise ValueError(f"unknown step kind {self.kind!r}")
        if not self.key.startswith(f"{self.deadline}:"):
            raise ValueError(f"step key {self.key!r} must start with {self.deadline!r}:")
        if self.kind == "reminder" and self.offset >= timedelta(0):
            raise ValueError("a reminder comes before the due time (negative offset)")
        if self.kind == "escalation" and self.offset < timedelta(0):
            raise ValueError("an escalation comes at or after the due time")

    def fire_at(self, due: datetime) -> datetime:
        return due + self.offset


def _span(offset: timedelta) -> str:
    offset = abs(offset)
    if offset >= 2 * _DAY and offset % _DAY == timedelta(0):
        return f"{offset // _DAY}d"
    if offset % _HOUR == timedelta(0):
        return f"{offset // _HOUR}h"
    return f"{offset // timedelta(minutes=1)}m"


def make_steps(
    deadline: str, reminders_before: Iterable[timedelta], escalations_after: Iterable[timedelta]
) -> tuple[LadderStep, ...]:
    """A ladder from configured offsets, with stable keys (``legal:remind-7d``, ``legal:escalate``,
    ``legal:escalate+24h``), ordered by time."""
    steps = [
        LadderStep(f"{deadline}:remind-{_span(before)}", deadline, "reminder", -abs(before))
        for before in reminders_before
    ]
    for after in escalations_after:
        suffix = "" if after == timedelta(0) else f"+{_span(after)}"
        steps.append(LadderStep(f"{deadline}:escalate{suffix}", deadline, "escalation", abs(after)))
    return tuple(sorted(steps, key=lambda s: s.offset))


DEFAULT_LADDER: Mapping[str, tuple[LadderStep, ...]] = MappingProxyType(
    {
        "first_response": make_steps(
            "first_response", (timedelta(hours=24), timedelta(hours=6)), (timedelta(0), timedelta(hours=24))
        ),
        "legal": make_steps(
            "legal", (timedelta(days=7), timedelta(days=2)), (timedelta(0), timedelta(days=1))
        ),
    }
)


def validate_ladder(ladder: Mapping[str, Sequence[LadderStep]]) -> None:
    """A duplicated key would make two steps share one "sent" record; refuse such config early."""
    seen: set[str] = set()
    for name, steps in ladder.items():
        for step in steps:
            if step.deadline != name:
                raise ValueError(f"step {step.key!r} listed under deadline {name!r}")
            if step.key in seen:
                raise ValueError(f"duplicate ladder step key {step.key!r}")
            seen.add(step.key)


def occurrence_key(step: LadderStep, due: datetime) -> str:
    """The unique record of "this step, for this due time" (store it per ticket)."""
    return f"{step.key}@{require_aware(due, 'due').astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class DueStep:
    step: LadderStep
    due: datetime
    fire_at: datetime
    key: str  # occurrence key


@dataclass(frozen=True)
class LadderPlan:
    send: tuple[DueStep, ...]
    skipped: tuple[DueStep, ...]


def plan_steps(
    deadlines: Mapping[str, datetime | None],
    met: Mapping[str, bool],
    sent: AbstractSet[str],
    now: datetime,
    ladder: Mapping[str, Sequence[LadderStep]] = DEFAULT_LADDER,
) -> LadderPlan:
    """What to send now, and which due-but-unsent steps are superseded by a later one."""
    require_aware(now, "now")
    validate_ladder(ladder)
    send: list[DueStep] = []
    skipped: list[DueStep] = []
    for name, steps in ladder.items():
        due = deadlines.get(name)
        if due is None or met.get(name, False):
            continue
        reached = sorted(
            (DueStep(s, due, s.fire_at(due), occurrence_key(s, due)) for s in steps if s.fire_at(due) <= now),
            key=lambda d: d.fire_at,
        )
        if not reached:
            continue
        *earlier, latest = reached
        if latest.key not in sent:
            send.append(latest)
        skipped.extend(d for d in earlier if d.key not in sent)
    return LadderPlan(tuple(sorted(send, key=lambda d: d.fire_at)), tuple(skipped))


def overdue(
    deadlines: Mapping[str, datetime | None],
    met: Mapping[str, bool],
    now: datetime,
    names: Iterable[str] = ("first_response", "legal"),
) -> frozenset[str]:
    """Deadlines breached and not met: the ticket is marked overdue even when the breach
    escalation itself was superseded during downtime."""
    require_aware(now, "now")
    return frozenset(
        n for n in names if (due := deadlines.get(n)) is not None and not met.get(n, False) and due <= now
    )
