"""Business time: deadlines count only working hours on working days.

Working days come from `chinese_calendar` (public holidays and the make-up
working days, 调休, as the State Council publishes them). For a year the
library does not cover yet, Monday to Friday is assumed and a warning logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)
_MAX_DAYS = 3660  # a calendar with no working day at all must not loop for ever


@cache
def china_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_uncovered(day.year)
        return day.weekday() < 5


@cache
def _warn_uncovered(year: int) -> None:
    log.warning("chinese_calendar has no holidays for %s yet: assuming Monday to Friday "
                "(upgrade chinese-calendar once the year's schedule is published)", year)


def weekdays(day: date) -> bool:
    return day.weekday() < 5


def every_day(day: date) -> bool:
    return True


WORKDAY_RULES: dict[str, Callable[[date], bool]] = {
    "china": china_workday, "weekdays": weekdays, "every_day": every_day,
}


@dataclass(frozen=True)
class BusinessCalendar:
    periods: tuple[tuple[time, time], ...]
    tz: ZoneInfo
    is_workday: Callable[[date], bool] = china_workday

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("a calendar needs at least one working period")
        for (start, end), following in zip(self.periods, [*self.periods[1:], None], strict=True):
            if not start < end or (following and not end <= following[0]):
                raise ValueError(f"working periods must be ordered and not overlap: {self.periods}")

    @property
    def day_length(self) -> timedelta:
        """One business day: the sum of the working periods."""
        return sum((datetime.combine(date.min, end) - datetime.combine(date.min, start)
                    for start, end in self.periods), timedelta())

    def _spans(self, moment: datetime):
        """Working spans (local start, local end) from `moment` onwards."""
        local = moment.astimezone(self.tz)
        day = local.date()
        for _ in range(_MAX_DAYS):
            if self.is_workday(day):
                for start, end in self.periods:
                    begin = max(local, datetime.combine(day, start, self.tz))
                    finish = datetime.combine(day, end, self.tz)
                    if begin < finish:
                        yield begin, finish
            day += timedelta(days=1)
        raise ValueError("no working time in the next ten years: check the calendar")

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start`."""
        remaining = duration
        for begin, finish in self._spans(start):
            if remaining <= finish - begin:
                return (begin + remaining).astimezone(UTC)
            remaining -= finish - begin
        raise AssertionError("unreachable")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments (zero if `end` is not after `start`)."""
        total = timedelta()
        if end <= start:
            return total
        for begin, finish in self._spans(start):
            if begin >= end:
                return total
            total += min(finish, end.astimezone(self.tz)) - begin
        return total
