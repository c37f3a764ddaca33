"""A report request from the API or the console: its period and scope read and narrowed to the member's
roles, and the report run by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.models import StaffMember
from bot.policy import Policies
from bot.services import access
from bot.services.errors import NotFound, ServiceError
from bot.services.reports import appraisal, compliance, satisfaction, workload
from bot.services.reports.base import Period, Scope


@dataclass(frozen=True)
class Asked:
    """A report request as the member may have it: the period, and the scope their role allows."""

    period: Period
    scope: Scope


def _id(value: str | int | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    if not value.strip().isdigit() or len(value.strip()) > 9:
        raise ServiceError(f"{what}「{value}」不是编号")
    return int(value)


def ask(member: StaffMember, *, today: date, month: str | None = None, start: str | None = None,
        end: str | None = None, district: str | None = None, group: str | int | None = None,
        staff: str | int | None = None) -> Asked:
    """Read a request's period and scope (bad values are refused with the reason) and narrow the scope
    to what the member's roles see (`access.report_scope`)."""
    period = Period.parse(month=month or None, start=start or None, end=end or None, today=today)
    scope = Scope(district=(district or "").strip() or None, chat_group_id=_id(group, "群"),
                  staff_id=_id(staff, "员工"))
    return Asked(period, access.report_scope(member, scope))


def run(session: Session, name: str, asked: Asked, *, tz: ZoneInfo, policies: Policies) -> Any:
    """One report by name, for the period and scope asked."""
    period, scope = asked.period, asked.scope
    if name == "compliance":
        return compliance.report(session, period, scope, tz)
    if name == "satisfaction":
        return satisfaction.report(session, period, scope, tz)
    if name == "workload":
        return workload.report(session, period, scope, tz, policies.calendar("reply", tz).is_workday)
    if name == "appraisal":
        return appraisal.report(session, period, scope, tz, policies.appraisal)
    raise NotFound(f"没有「{name}」这个报表")


PERIOD_AND_SCOPE = ("month", "start", "end", "district", "group", "staff")
PAGING = ("offset", "limit", "page")


def ask_details(member: StaffMember, params: dict[str, str], *, today: date) -> tuple[Asked, dict[str, str]]:
    """A drill-down link's query: its period and scope (as `ask`), and the rest as the list's filters. A
    group or district of 'none' (private chats, no district) is a filter, not a scope."""
    scoped = {name: params[name] for name in PERIOD_AND_SCOPE if params.get(name) and params[name] != "none"}
    filters = {name: value for name, value in params.items()
               if name not in PERIOD_AND_SCOPE + PAGING and value != ""}
    filters |= {name: "none" for name in ("group", "district") if params.get(name) == "none"}
    return ask(member, today=today, **scoped), filters
