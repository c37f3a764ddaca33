"""Drill-down: the tickets behind a figure, one line per thing counted.

Each measure lists what its report counts, with the same conditions: `rounds` the pledge rounds of
the compliance report (`compliance.in_scope` + `compliance.drill_conditions`), `calls` the callbacks
of the satisfaction report, `requests` the first reply rounds the workload report counts. So a
clicked number and the length of its list are the same. Request texts are masked like the group
guard masks them: a report never shows a phone number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col

from bot.models import CallbackRecord, PledgeKind, PledgeRound, RoundOutcome, Ticket, table_of
from bot.services.errors import ServiceError
from bot.services.guard import mask_personal_data
from bot.services.pledges import LOW_SCORE
from bot.services.reports import compliance, satisfaction, workload
from bot.services.reports.base import KIND_LABELS, Named, Period, Scope, local_day
from bot.texts import CATEGORY_LABELS

MEASURES = ("rounds", "calls", "requests")
FILTERS = {"rounds": {"kind", "bucket", "owner", "group", "district"},
           "calls": {"score", "staff", "group", "district", "check"},
           "requests": {"category", "day", "bot", "handover", "entry"}}
_BUCKET_WORDS = {"due": "应兑现", "breached": "超时", **compliance.BUCKET_LABELS}
TEXT_LENGTH = 80
PAGE_LIMIT = 200


@dataclass(frozen=True)
class Line:
    ticket_id: int
    at: datetime
    category: str
    group: str
    text: str
    detail: str
    staff: str
    breach_id: int | None = None


def _check(measure: str, filters: dict[str, str]) -> None:
    if measure not in MEASURES:
        raise ServiceError(f"没有「{measure}」这种明细")
    unknown = set(filters) - FILTERS[measure]
    if unknown:
        raise ServiceError(f"明细不认识这些条件：{'、'.join(sorted(unknown))}")


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"用时 {seconds / 60:.0f} 分钟"


def _query(measure: str, period: Period, scope: Scope, tz: ZoneInfo, filters: dict[str, str],
           session: Session) -> Select[Any]:  # the rows differ per measure
    _check(measure, filters)
    if measure == "calls":
        calls = (core_select(CallbackRecord, Ticket).join(Ticket, col(Ticket.id) == CallbackRecord.ticket_id)
                 .where(*satisfaction.in_scope(period, scope, tz), *_call_conditions(filters))
                 .order_by(col(CallbackRecord.recorded_at), col(CallbackRecord.id)))
        return cast(Select[Any], calls)
    if measure == "rounds":
        conditions = [*compliance.in_scope(period, scope, tz), *compliance.drill_conditions(filters)]
    else:
        conditions = [*workload.first_rounds(period, scope, tz), *_request_conditions(session, filters, period, tz)]
    rounds = (core_select(PledgeRound, Ticket).join(Ticket, col(Ticket.id) == PledgeRound.ticket_id)
              .where(*conditions).order_by(col(PledgeRound.started_at), col(PledgeRound.id)))
    return cast(Select[Any], rounds)


def _number(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise ServiceError(f"{what}「{value}」不是编号")
    return int(value)


def _call_conditions(filters: dict[str, str]) -> list[ColumnElement[bool]]:
    """Calls scored (a score, or 'low'), by a person who kept the reply or visit asked about, in a group
    or district, or whose confirmation disagrees with the clock (as the call recorded them)."""
    conditions: list[ColumnElement[bool]] = []
    score = filters.get("score")
    if score == "low":
        conditions.append(col(CallbackRecord.score) <= LOW_SCORE)
    elif score == "scored":  # every scored call: what a row of the satisfaction report counts
        conditions.append(col(CallbackRecord.score).is_not(None))
    elif score:
        if score not in {"1", "2", "3", "4", "5"}:
            raise ServiceError("评分须是 1 到 5、scored 或 low")
        conditions.append(col(CallbackRecord.score) == int(score))
    if any(filters.get(name) for name in ("staff", "group", "district")):  # the report's rows count scored calls
        conditions.append(col(CallbackRecord.score).is_not(None))
    staff = filters.get("staff")
    if staff:
        person = _number(staff, "员工")
        conditions.append(or_(col(CallbackRecord.reply_staff_id) == person,
                              col(CallbackRecord.visit_staff_id) == person))
    group = filters.get("group")
    if group == "none":
        conditions.append(col(CallbackRecord.chat_group_id).is_(None))
    elif group:
        conditions.append(col(CallbackRecord.chat_group_id) == _number(group, "群"))
    district = filters.get("district")
    if district == "none":
        conditions.append(col(CallbackRecord.district).is_(None))
    elif district:
        conditions.append(col(CallbackRecord.district) == district)
    check = filters.get("check")
    if check == "reply_disagree":
        conditions += [col(CallbackRecord.reached).is_(True), col(CallbackRecord.reply_in_time).is_not(None),
                       col(CallbackRecord.reply_in_time) != func.coalesce(col(CallbackRecord.reply_kept_in_time),
                                                                          False)]
    elif check == "visit_disagree":
        conditions += [col(CallbackRecord.reached).is_(True), col(CallbackRecord.visit_happened).is_not(None),
                       col(CallbackRecord.visit_happened) != func.coalesce(col(CallbackRecord.visit_kept), False)]
    elif check:
        raise ServiceError("核对项须是 reply_disagree 或 visit_disagree")
    return conditions


def _request_conditions(session: Session, filters: dict[str, str], period: Period,
                        tz: ZoneInfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    category = filters.get("category")
    if category:
        if category not in CATEGORY_LABELS:
            raise ServiceError(f"没有「{category}」这个类别")
        conditions.append(col(PledgeRound.category) == category)
    day = filters.get("day")
    if day:
        if day not in {d.isoformat() for d in period.days()}:
            raise ServiceError(f"日期「{day}」不在统计期间内")
        conditions.append(local_day(session, table_of(PledgeRound).c.started_at, tz, period.first) == day)
    if filters.get("bot") == "1":
        conditions.append(col(PledgeRound.by_bot).is_(True))
    elif filters.get("bot"):
        raise ServiceError("bot 只能是 1")
    if filters.get("handover") == "1":
        conditions += [col(PledgeRound.by_bot).is_(True),
                       col(PledgeRound.ticket_id).in_(workload.handed_over_tickets(period, tz))]
    elif filters.get("handover"):
        raise ServiceError("handover 只能是 1")
    entry = filters.get("entry")
    if entry:
        conditions += [col(PledgeRound.by_bot).is_(True), col(Ticket.knowledge_entry_id) == entry]
    return conditions


def _line(measure: str, row: Any, named: Named, tz: ZoneInfo) -> Line:
    if measure == "calls":
        call, ticket = row
        said = f"评分 {call.score}" if call.score is not None else "未接通"
        people = "、".join(dict.fromkeys(named.person(person) for person in (call.reply_staff_id, call.visit_staff_id)
                                         if person is not None))
        return Line(ticket.id, call.recorded_at, CATEGORY_LABELS.get(ticket.category, ticket.category),
                    named.group(ticket.chat_group_id), _shown(ticket.text), said + (
                        f" · {call.comment.strip()[:40]}" if call.comment and call.comment.strip() else ""),
                    people or "—")
    round_, ticket = row
    label = compliance.BUCKET_LABELS[_bucket_of(round_)]
    parts = (KIND_LABELS.get(PledgeKind(round_.kind), round_.kind),
             f"第 {round_.round_no} 轮" if round_.round_no > 1 else "", label,
             "机器人自动答复" if round_.by_bot else _minutes(round_.business_seconds),
             f"暂停 {round_.paused_seconds / 60:.0f} 分钟" if round_.paused_seconds else "")
    detail = " · ".join(part for part in parts if part)
    return Line(ticket.id, round_.started_at, CATEGORY_LABELS.get(round_.category, round_.category),
                named.group(round_.chat_group_id), _shown(ticket.text), detail, named.person(round_.owner_staff_id))


def _bucket_of(round_: PledgeRound) -> str:
    """The compliance bucket in Python, for the line's words (the list itself is filtered in SQL)."""
    breached = round_.breached_at is not None
    if round_.outcome == RoundOutcome.MET:
        return "met_late" if breached else "met_in_time"
    if breached:
        return "breached_open"
    if round_.outcome == RoundOutcome.RUNNING:
        return "open"
    return "not_applicable" if round_.outcome == RoundOutcome.NOT_APPLICABLE else "cancelled"


def _shown(text: str) -> str:
    masked = mask_personal_data(text)
    return masked if len(masked) <= TEXT_LENGTH else masked[:TEXT_LENGTH - 1] + "…"


def lines(session: Session, measure: str, period: Period, scope: Scope, tz: ZoneInfo, filters: dict[str, str], *,
          offset: int = 0, limit: int = 50) -> tuple[int, list[Line]]:
    """One page of the list and how many there are in all."""
    if offset < 0 or not 1 <= limit <= PAGE_LIMIT:
        raise ServiceError(f"分页参数不对：每页 1 到 {PAGE_LIMIT} 条")
    query = _query(measure, period, scope, tz, filters, session)
    total = session.execute(core_select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    named = compliance.names(session)
    return total, [_line(measure, row, named, tz) for row in session.execute(query.offset(offset).limit(limit))]


def all_lines(session: Session, measure: str, period: Period, scope: Scope, tz: ZoneInfo,
              filters: dict[str, str]) -> Iterator[Line]:
    """Every line, streamed from the database in batches (for an export of a large period)."""
    query = _query(measure, period, scope, tz, filters, session)
    named = compliance.names(session)
    for row in session.execute(query.execution_options(yield_per=1000)):
        yield _line(measure, row, named, tz)


def describe(measure: str, filters: dict[str, str], named: Named) -> str:
    """What the list is, in words: 客服回复 · 超时未兑现 · 负责人 张三."""
    _check(measure, filters)
    parts: list[str] = []
    if measure == "rounds":
        kind = filters.get("kind", "")
        parts.append(KIND_LABELS[PledgeKind(kind)] if kind in PledgeKind.__members__.values() else "全部承诺")
        bucket = filters.get("bucket")
        if bucket:
            parts.append(_BUCKET_WORDS.get(bucket, bucket))
        owner = filters.get("owner")
        if owner:
            parts.append("负责人 " + named.person(int(owner) if owner.isdigit() else None))
    elif measure == "calls":
        parts.append("回访")
        score = filters.get("score")
        if score:
            parts.append({"low": "低分（2 分及以下）", "scored": "已评分"}.get(score, f"评分 {score}"))
        if filters.get("staff", "").isdigit():
            parts.append("经办人 " + named.person(int(filters["staff"])))
        check = filters.get("check")
        if check:
            parts.append({"reply_disagree": "客户对回复时效的说法与记录不符",
                          "visit_disagree": "客户对上门的说法与记录不符"}.get(check, check))
    else:
        parts.append("客户诉求")
        if filters.get("category"):
            parts.append(CATEGORY_LABELS.get(filters["category"], filters["category"]))
        if filters.get("day"):
            parts.append(filters["day"])
        if filters.get("bot") == "1":
            parts.append("机器人自动答复")
        if filters.get("handover") == "1":
            parts.append("自动答复后转人工")
        if filters.get("entry"):
            parts.append(f"知识条目 {filters['entry']}")
    group = filters.get("group")
    if group:
        parts.append(named.group(int(group) if group.isdigit() else None))
    district = filters.get("district")
    if district:
        parts.append("未分区" if district == "none" else district)
    return " · ".join(parts)
