"""Working days for Dutch legal terms (R-A3) and for business-hours deadlines.

A GDPR term that ends on a weekend or public holiday runs on to the end of the next working day
(Reg. 1182/71 art. 3(4)); which days are holidays is Dutch law (Algemene termijnenwet art. 3), and
days declared equivalent under Atw art. 3(3) — or a company's own closing days — are *data*, so the
calendar takes extra days instead of hard-coding them.

The statutory base comes from ``holidays.NL`` (it knows Koningsdag moving to 26 April when 27 April
is a Sunday, and Koninginnedag before 2014) plus the two Atw days the package does not always list:
Goede Vrijdag and 5 mei (``holidays.NL`` has Bevrijdingsdag only every fifth year).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from dateutil.easter import easter

#: Saturday and Sunday (``date.weekday()``); Atw art. 1 treats both as non-working days.
WEEKEND: frozenset[int] = frozenset({5, 6})


@lru_cache(maxsize=64)
def atw_holidays(year: int) -> frozenset[date]:
    """The Algemene termijnenwet art. 3 holidays of ``year`` (cached: the set never changes)."""
    days = set(holidays.country_holidays("NL", years=year).keys())
    days.add(easter(year) - timedelta(days=2))  # Goede Vrijdag
    days.add(date(year, 5, 5))  # 5 mei, every year for term purposes
    return frozenset(days)


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def require_aware(moment: datetime, what: str = "datetime") -> datetime:
    """Naive datetimes are refused: a deadline one hour off is a deadline missed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment


@dataclass(frozen=True)
class WorkCalendar:
    """Which days count as working days, and in which zone a "day" is read.

    ``extra_holidays`` are days the company (or an Atw art. 3(3) decision, e.g. the Friday after
    Ascension) adds on top of the statutory list.
    """

    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    zone: str = "Europe/Amsterdam"

    def __post_init__(self) -> None:
        _zone(self.zone)  # fail at configuration time, not at the first deadline

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.zone)

    def is_holiday(self, d: date) -> bool:
        return d in self.extra_holidays or d in atw_holidays(d.year)

    def is_working_day(self, d: date) -> bool:
        return d.weekday() not in WEEKEND and not self.is_holiday(d)

    def next_working_day(self, d: date) -> date:
        """``d`` itself when it is a working day, else the first working day after it.

        On-or-after is the R-A3 rollover: a term whose last day is a working day stays put.
        """
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` itself is not counted; n=0 gives ``d``)."""
        if n < 0:
            raise ValueError("n must not be negative")
        while n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d

    def local_date(self, moment: datetime) -> date:
        """The calendar date of ``moment`` in this zone: the date a Dutch reader would say."""
        return require_aware(moment).astimezone(self.tz).date()

    def end_of_day(self, d: date) -> datetime:
        """The last microsecond of local day ``d``, as UTC (a term runs to the end of its last day)."""
        return datetime.combine(d, time.max, tzinfo=self.tz).astimezone(UTC)

    def at(self, d: date, t: time) -> datetime:
        """Local wall-clock ``t`` on ``d``, as UTC."""
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC)
