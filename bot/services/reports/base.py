"""What every report shares: the period (local days, a month by default), the scope (district, group,
person) and the few SQL helpers that make one query read the same on SQLite and PostgreSQL."""

from __future__ import annotations

import calendar as month_days
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, literal_column
from sqlmodel import Session

from bot.models import PledgeKind
from bot.services.calendar import BusinessCalendar
from bot.services.errors import ServiceError

MAX_DAYS = 366
KIND_LABELS = {PledgeKind.REPLY: "客服回复", PledgeKind.VISIT: "上门服务", PledgeKind.CALLBACK: "回访"}
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True)
class Period:
    """Local calendar days from `first` to `last`, both included."""

    first: date
    last: date

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), date(year, month, month_days.monthrange(year, month)[1]))

    @classmethod
    def previous_month(cls, today: date) -> Period:
        last = today.replace(day=1) - timedelta(days=1)
        return cls.month(last.year, last.month)

    @classmethod
    def parse(cls, *, month: str | None, start: str | None, end: str | None, today: date) -> Period:
        """From a request: `month` (2026-11), or `start` and `end` (2026-11-01); neither: last month."""
        if month and (start or end):
            raise ServiceError("请只选月份，或只选起止日期")
        if month:
            found = _MONTH.match(month.strip())
            if not found or not 1 <= int(found.group(2)) <= 12 or not 2000 <= int(found.group(1)) <= 2100:
                raise ServiceError(f"月份「{month}」不对，请写成 2026-11")
            return cls.month(int(found.group(1)), int(found.group(2)))
        if start or end:
            if not (start and end):
                raise ServiceError("请同时填写开始日期和结束日期")
            try:
                first, last = date.fromisoformat(start.strip()), date.fromisoformat(end.strip())
            except ValueError:
                raise ServiceError("日期请写成 2026-11-01") from None
            if last < first:
                raise ServiceError("结束日期不能早于开始日期")
            if (last - first).days + 1 > MAX_DAYS:
                raise ServiceError(f"统计期间最长 {MAX_DAYS} 天")
            return cls(first, last)
        return cls.previous_month(today)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as [start, end) moments."""
        return (datetime.combine(self.first, time(), tz),
                datetime.combine(self.last + timedelta(days=1), time(), tz))

    @property
    def whole_month(self) -> bool:
        return self.first.day == 1 and self == Period.month(self.first.year, self.first.month)

    @property
    def label(self) -> str:
        if self.whole_month:
            return f"{self.first.year}年{self.first.month}月"
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    @property
    def span(self) -> str:
        return f"统计期间：{self.first.isoformat()} 至 {self.last.isoformat()}"

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def working_days(self, calendar: BusinessCalendar) -> int:
        return sum(1 for day in self.days() if calendar.is_workday(day))

    def query(self) -> dict[str, str]:
        """The period as request parameters, for links."""
        if self.whole_month:
            return {"month": f"{self.first.year}-{self.first.month:02d}"}
        return {"start": self.first.isoformat(), "end": self.last.isoformat()}


@dataclass(frozen=True)
class Scope:
    """Which part of the district a report covers; `staff_id` narrows it to one person's own figures."""

    district: str | None = None
    chat_group_id: int | None = None
    staff_id: int | None = None

    def query(self) -> dict[str, str]:
        found = {"district": self.district, "group": self.chat_group_id, "staff": self.staff_id}
        return {name: str(value) for name, value in found.items() if value is not None}


@dataclass(frozen=True)
class Timing:
    """Working time taken, in business minutes."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Timing:
        return cls.of_counts(Counter(seconds))

    @classmethod
    def of_counts(cls, counts: Mapping[float, int]) -> Timing:
        """From how many times each value (in seconds) occurs: a histogram the database counted."""
        ordered = sorted((value, count) for value, count in counts.items() if count > 0)
        total = sum(count for _, count in ordered)
        if not total:
            return cls()
        return cls(total, round(_percentile(ordered, total, 0.5) / 60, 1),
                   round(_percentile(ordered, total, 0.9) / 60, 1))


def _percentile(ordered: Sequence[tuple[float, int]], total: int, share: float) -> float:
    """Linear interpolation between the closest ranks (what spreadsheets' PERCENTILE does), over values
    with their counts, in order."""
    position = (total - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return _at_rank(ordered, low) + (_at_rank(ordered, high) - _at_rank(ordered, low)) * (position - low)


def _at_rank(ordered: Sequence[tuple[float, int]], rank: int) -> float:
    seen = 0
    for value, count in ordered:
        seen += count
        if rank < seen:
            return value
    raise IndexError(rank)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def local_day(session: Session, column: ColumnElement[datetime], tz: ZoneInfo, on: date) -> ColumnElement[str]:
    """The local date of a stored (UTC) moment as 'YYYY-MM-DD', in SQL. The offset is the zone's on
    `on` (China keeps one offset all year)."""
    offset = tz.utcoffset(datetime.combine(on, time()))
    assert offset is not None, "a ZoneInfo always has an offset"
    minutes = int(offset.total_seconds() // 60)
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d", column, f"{minutes:+d} minutes")
    return func.to_char(column + literal_column(f"interval '{minutes} minutes'"), "YYYY-MM-DD")


@dataclass
class Named:
    """Names for the ids a report shows: staff, groups."""

    staff: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)

    def person(self, staff_id: int | None) -> str:
        if staff_id is None:
            return "未指派"
        return self.staff.get(staff_id, f"员工{staff_id}")

    def group(self, group_id: int | None) -> str:
        if group_id is None:
            return "私聊"
        return self.groups.get(group_id, f"群{group_id}")
