"""Business-time arithmetic across nights, weekends, holidays and make-up working days."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.calendar import BusinessCalendar, china_workday

SHANGHAI = ZoneInfo("Asia/Shanghai")
DESK = BusinessCalendar(((time(8, 30), time(12)), (time(13, 30), time(17, 30))), SHANGHAI)


def local(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def test_thirty_minutes_within_the_morning():
    assert DESK.add(local(2026, 11, 23, 10, 0), timedelta(minutes=30)) == local(2026, 11, 23, 10, 30)


def test_lunch_break_and_night_do_not_count():
    assert DESK.add(local(2026, 11, 23, 11, 50), timedelta(minutes=30)) == local(2026, 11, 23, 13, 50)
    assert DESK.add(local(2026, 11, 23, 17, 20), timedelta(minutes=30)) == local(2026, 11, 24, 8, 50)
    assert DESK.add(local(2026, 11, 23, 22, 0), timedelta(minutes=30)) == local(2026, 11, 24, 9, 0)


def test_weekends_and_national_day_are_skipped_and_make_up_days_worked():
    # Friday 17:20 -> Monday
    assert DESK.add(local(2026, 11, 27, 17, 20), timedelta(minutes=30)) == local(2026, 11, 30, 8, 50)
    # National Day 2026: off 1 to 7 October; Saturday 10 October is a make-up working day (调休)
    assert DESK.add(local(2026, 9, 30, 17, 20), timedelta(minutes=30)) == local(2026, 10, 8, 8, 50)
    assert DESK.add(local(2026, 10, 9, 17, 20), timedelta(minutes=30)) == local(2026, 10, 10, 8, 50)
    # Spring Festival: Saturday 14 February is worked, 16 to 23 February are not
    assert DESK.add(local(2026, 2, 13, 17, 20), timedelta(minutes=30)) == local(2026, 2, 14, 8, 50)
    assert DESK.add(local(2026, 2, 14, 17, 20), timedelta(minutes=30)) == local(2026, 2, 24, 8, 50)


def test_elapsed_counts_only_working_time():
    assert DESK.elapsed(local(2026, 11, 23, 11, 0), local(2026, 11, 23, 14, 0)) == timedelta(hours=1, minutes=30)
    assert DESK.elapsed(local(2026, 11, 27, 17, 0), local(2026, 11, 30, 9, 0)) == timedelta(minutes=60)
    assert DESK.elapsed(local(2026, 11, 23, 14, 0), local(2026, 11, 23, 13, 0)) == timedelta(0)


def test_a_year_the_library_does_not_cover_falls_back_to_weekdays():
    assert china_workday(date(2031, 1, 6)) is True   # a Monday
    assert china_workday(date(2031, 1, 4)) is False  # a Saturday


def test_bad_periods_are_refused():
    with pytest.raises(ValueError):
        BusinessCalendar(((time(12), time(8)),), SHANGHAI)
    with pytest.raises(ValueError):
        BusinessCalendar(((time(8), time(12)), (time(11), time(13))), SHANGHAI)


moments = st.datetimes(min_value=datetime(2024, 12, 20), max_value=datetime(2026, 12, 20),
                       timezones=st.just(UTC))
durations = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=12))


def brute_force_add(start: datetime, duration: timedelta) -> datetime:
    """Minute by minute, the slow obvious way (start and duration on whole minutes)."""
    cursor, left = start.astimezone(SHANGHAI), duration
    while True:
        day, clock = cursor.date(), cursor.time()
        working = china_workday(day) and any(a <= clock < b for a, b in DESK.periods)
        if working:
            if left == timedelta(0):
                return cursor.astimezone(UTC)
            left -= timedelta(minutes=1)
            cursor += timedelta(minutes=1)
            if left == timedelta(0):
                return cursor.astimezone(UTC)
        else:
            cursor += timedelta(minutes=1)


@settings(max_examples=200, deadline=None)
@given(moments, durations)
def test_elapsed_undoes_add(start, duration):
    assert DESK.elapsed(start, DESK.add(start, duration)) == duration


@settings(max_examples=200, deadline=None)
@given(moments, durations, durations)
def test_add_is_monotonic_and_composes(start, first, second):
    assert DESK.add(start, first) <= DESK.add(start, first + second)
    assert DESK.add(DESK.add(start, first), second) == DESK.add(start, first + second)


@settings(max_examples=200, deadline=None)
@given(moments, durations)
def test_a_deadline_falls_inside_working_time(start, duration):
    due = DESK.add(start, duration).astimezone(SHANGHAI)
    assert china_workday(due.date())
    assert any(a < due.time() <= b for a, b in DESK.periods)


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 9, 20), max_value=datetime(2026, 10, 10), timezones=st.just(SHANGHAI)),
       st.integers(min_value=1, max_value=600))
def test_add_agrees_with_counting_minute_by_minute(start, minutes):
    start = start.replace(second=0, microsecond=0)
    assert DESK.add(start, timedelta(minutes=minutes)) == brute_force_add(start, timedelta(minutes=minutes))
